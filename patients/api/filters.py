import datetime

import django_filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from clinic.api.utils import utc_instant
from patients.models import Assessment, Level, Patient, ReminderChannel


class InstantField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return utc_instant(value)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared as its UTC instant (any offset Python reads is fine)."""

    field_class = InstantField


class PatientFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        label="Name, MRN or date of birth (YYYY-MM-DD)",
    )
    clinic = django_filters.NumberFilter()
    date_of_birth = django_filters.DateFilter()
    reminder_channel = django_filters.ChoiceFilter(
        choices=ReminderChannel.choices, method="filter_channel"
    )
    has_app_account = django_filters.BooleanFilter(
        field_name="app_user", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Patient
        fields = ["clinic", "date_of_birth"]

    def filter_search(self, queryset, name, value):
        value = value.strip()[:100]
        if not value:
            return queryset
        try:
            birth_date = datetime.date.fromisoformat(value)
        except ValueError:
            birth_date = None
        if birth_date is not None:
            return queryset.filter(date_of_birth=birth_date)
        condition = Q(mrn=value)
        # Every word must match a first or last name ("ana diaz", "diaz").
        names = Q()
        for word in value.split()[:5]:
            names &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
        return queryset.filter(condition | names)

    def filter_channel(self, queryset, name, value):
        return queryset.filter(reminder_channels__contains=[value])


class AssessmentFilterSet(django_filters.FilterSet):
    patient = django_filters.NumberFilter()
    recommended_level = django_filters.ChoiceFilter(choices=Level.choices)
    decided_level = django_filters.ChoiceFilter(choices=Level.choices)
    decided = django_filters.BooleanFilter(
        field_name="decided_at", lookup_expr="isnull", exclude=True
    )
    assessed_after = InstantFilter(field_name="assessed_at", lookup_expr="gte")
    assessed_before = InstantFilter(field_name="assessed_at", lookup_expr="lt")

    class Meta:
        model = Assessment
        fields = ["patient", "recommended_level", "decided_level"]
