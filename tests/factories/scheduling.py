"""Sessions and series, made by the scheduling services (validated and audited)."""

import datetime

import factory
from django.utils import timezone

from scheduling import services as scheduling_services
from scheduling.models import Series, Session
from tests.factories.clinic import ClinicFactory, staff_user


def _clinician_of(clinic):
    return staff_user(role="clinician", clinics=[clinic])


class SessionFactory(factory.django.DjangoModelFactory):
    """A one-off group session of three hours from tomorrow (``hours`` sets the length),
    created by ``session_create`` (``actor``: a clinician of the clinic unless given)."""

    class Meta:
        model = Session

    clinic = factory.SubFactory(ClinicFactory)
    title = "Relapse prevention"
    kind = "group"
    starts_at = factory.LazyFunction(
        lambda: timezone.now().replace(microsecond=0) + datetime.timedelta(days=1)
    )
    ends_at = factory.LazyAttribute(lambda s: s.starts_at + datetime.timedelta(hours=s.hours))

    class Params:
        hours = 3

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        return scheduling_services.session_create(
            actor=actor or _clinician_of(fields["clinic"]), **fields
        )


class SeriesFactory(factory.django.DjangoModelFactory):
    """A weekly series (Monday, Wednesday, Friday at 18:00 for three hours, from tomorrow)
    created by ``series_create``; not expanded (``series_materialize`` does that)."""

    class Meta:
        model = Series

    clinic = factory.SubFactory(ClinicFactory)
    title = "Relapse prevention"
    kind = "group"
    weekdays = factory.LazyFunction(lambda: [1, 3, 5])  # ISO: Monday = 1
    local_start_time = datetime.time(18, 0)
    duration_minutes = 180
    starts_on = factory.LazyAttribute(
        lambda s: timezone.localdate(timezone=s.clinic.zone) + datetime.timedelta(days=1)
    )

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        return scheduling_services.series_create(
            actor=actor or _clinician_of(fields["clinic"]), **fields
        )
