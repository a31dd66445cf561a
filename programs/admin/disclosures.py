"""Disclosures in the admin (42 CFR Part 2): "send to the next provider" from an enrollment (at a
transition or a discharge), the read-only accounting, and the bundle's staff download.

Sending calls ``disclosure_create``, which alone decides whether a consent covers it; the page's
preview of what the consent does not cover is that same call, rolled back. The download serves
the document stored with the disclosure when it was made, as the API's bundle endpoint does.
"""

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from clinic.admin_utils import ClinicScopedAdmin, change_link
from clinic.api.mixins import never_cache_privately
from clinic.errors import ServiceError
from clinic.models import AuditAction
from clinic.selectors import STAFF_ROLES
from clinic.services import audit_record
from patients.models import Consent, DisclosureCategory, DisclosurePurpose
from programs.admin.actions import EnrollmentActionForm, refusal_messages
from programs.api.disclosures import FHIR_JSON
from programs.models import Disclosure, Transition
from programs.services.disclosures import (
    DISCLOSURE_ROLES,
    disclosure_create,
    patient_in_treatment,
)


def bundle_url(disclosure) -> str:
    return reverse("admin:programs_disclosure_bundle", args=[disclosure.pk])


def category_labels(values) -> str:
    return ", ".join(str(DisclosureCategory(value).label) for value in values)


def best_consent(patient, today, *, in_treatment: bool) -> Consent | None:
    """The consent the page starts from: complete and active today, the widest first (then the
    newest). Only a default for the form; the service decides what is covered."""
    usable = [
        consent
        for consent in patient.consents.all()
        if not consent.missing_elements() and consent.is_active_on(today, in_treatment=in_treatment)
    ]
    return max(usable, key=lambda consent: len(consent.categories), default=None)


class _Preview(Exception):
    """Rolls back the service's writes after it has said yes."""


class DiscloseForm(EnrollmentActionForm):
    action = "disclose"
    title = "Send to the next provider"
    submit_label = "Send"
    check_label = "Check what the consent covers"
    intro = (
        "The records chosen go to the recipient as a FHIR R4 bundle with the notice on "
        "redisclosure (42 CFR §2.32), only if a consent covers the recipient, the purpose and "
        "every category; each disclosure is kept in the patient's accounting."
    )
    recipient_name = forms.CharField(max_length=200, label="Recipient")
    recipient_address = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Recipient's address"
    )
    purpose = forms.ChoiceField(choices=DisclosurePurpose.choices)
    purpose_other = forms.CharField(
        required=False, label="Other purpose", help_text="When the purpose is 'other'."
    )
    categories = forms.MultipleChoiceField(
        choices=DisclosureCategory.choices, widget=forms.CheckboxSelectMultiple
    )
    window_start = forms.DateField(required=False, widget=AdminDateWidget, label="Attendance from")
    window_end = forms.DateField(required=False, widget=AdminDateWidget, label="Attendance until")
    transition = forms.ModelChoiceField(
        queryset=Transition.objects.none(), required=False, widget=forms.HiddenInput
    )

    @classmethod
    def roles(cls):
        return DISCLOSURE_ROLES

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        enrollment = self.enrollment
        today = self.today()
        self.consent = best_consent(
            enrollment.patient,
            today,
            in_treatment=patient_in_treatment(enrollment.patient, today),
        )
        transitions = Transition.objects.filter(
            Q(from_enrollment=enrollment) | Q(to_enrollment=enrollment)
        )
        self.fields["transition"].queryset = transitions
        move = transitions.filter(pk=self.request.GET.get("transition") or None).first()
        self.initial.update(
            transition=move,
            window_start=enrollment.start_date,
            window_end=move.date if move else enrollment.discharge_date or today,
            purpose=DisclosurePurpose.TREATMENT,
        )
        names = self.consent.recipient_names if self.consent else []
        if self.consent is not None:
            purposes = self.consent.purposes
            if DisclosurePurpose.TREATMENT not in purposes:
                self.initial["purpose"] = purposes[0]
            self.initial.update(
                recipient_name=names[0] if names else "",
                purpose_other=self.consent.purpose_other,
                categories=list(self.consent.categories),
            )
        # The consents' named recipients to pick from; any other name may be typed.
        every_name = dict.fromkeys(
            name
            for consent in enrollment.patient.consents.all()
            for name in consent.recipient_names
        )
        field = self.fields["recipient_name"]
        field.widget.attrs["list"] = "consent-recipients"
        field.help_text = format_html(
            'Named on a consent, or typed.<datalist id="consent-recipients">{}</datalist>',
            format_html_join("", '<option value="{}">', ((name,) for name in every_name)),
        )

    def _arguments(self, data) -> dict:
        return {
            "actor": self.request.user,
            "patient": self.enrollment.patient,
            "recipient_name": data["recipient_name"],
            "recipient_address": data.get("recipient_address") or "",
            "purpose": data["purpose"],
            "purpose_other": data.get("purpose_other") or "",
            "categories": data["categories"],
            "window_start": data.get("window_start"),
            "window_end": data.get("window_end"),
            "enrollment": self.enrollment,
            "transition": data.get("transition"),
        }

    def perform(self, data):
        return disclosure_create(**self._arguments(data))

    def success_message(self, result):
        return format_html(
            'Sent to {} ({}). <a href="{}">Download the FHIR bundle</a>.',
            result.recipient_name,
            category_labels(result.categories),
            bundle_url(result),
        )

    def redirect_to(self, result):
        return result

    def _preview(self) -> list[str]:
        """What sending now would be refused for (the service's own answer), nothing written."""
        data = self.cleaned_data if self.is_bound else self.initial
        if not data.get("recipient_name") or not data.get("categories"):
            return ["Choose a recipient and what to send."]
        try:
            with transaction.atomic():
                disclosure = disclosure_create(**self._arguments(data))
                raise _Preview(disclosure.consent)
        except _Preview as covered:
            consent = covered.args[0]
            return [f"Covered by the consent signed on {consent.signed_on}."]
        except ServiceError as error:
            return error.extra.get("missing") or [error.detail]
        except ValidationError as error:
            return refusal_messages(error)

    def extra_context(self):
        consent = self.consent
        if consent is None:
            add = reverse("admin:patients_consent_add")
            summary = format_html(
                'No complete, active consent on file: <a href="{}?patient={}">record one</a>.',
                add,
                self.enrollment.patient_id,
            )
        else:
            uncovered = [c for c in DisclosureCategory.values if c not in consent.categories]
            summary = format_html(
                "{} Consent signed on {} ({}): covers {}; does not cover {}.",
                change_link(consent, "Best consent on file:"),
                consent.signed_on,
                consent.recipients_display(),
                category_labels(consent.categories),
                category_labels(uncovered) or "nothing else",
            )
        checked = (self.is_bound and not self.errors) or not self.is_bound
        return {
            "check_label": self.check_label,
            "coverage": [summary, *(self._preview() if checked else [])],
        }


@admin.register(Disclosure)
class DisclosureAdmin(ClinicScopedAdmin):
    """The accounting of disclosures (§2.25), read-only: a disclosure is made on an enrollment's
    "send to the next provider" page and never changed."""

    read_roles = STAFF_ROLES
    write_roles = ()
    list_display = [
        "disclosed_at",
        "patient",
        "recipient_name",
        "purpose",
        "categories_list",
        "disclosed_by",
        "bundle_link",
    ]
    list_filter = ["purpose"]
    search_fields = ["patient__last_name", "=patient__mrn", "recipient_name"]
    date_hierarchy = "disclosed_at"
    list_select_related = ["patient", "disclosed_by"]
    fields = [
        "disclosed_at",
        "patient",
        "recipient_name",
        "recipient_address",
        "purpose",
        "purpose_other",
        "categories_list",
        "description",
        "window_start",
        "window_end",
        "consent_link",
        "enrollment",
        "transition",
        "disclosed_by",
        "bundle_link",
    ]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Information")
    def categories_list(self, disclosure):
        return category_labels(disclosure.categories)

    @admin.display(description="Consent")
    def consent_link(self, disclosure):
        return change_link(disclosure.consent, f"signed on {disclosure.consent.signed_on}")

    @admin.display(description="FHIR bundle")
    def bundle_link(self, disclosure):
        return format_html('<a href="{}">Download</a>', bundle_url(disclosure))

    def get_urls(self):
        bundle = path(
            "<path:object_id>/bundle/",
            self.admin_site.admin_view(self.bundle_view),
            name="programs_disclosure_bundle",
        )
        return [bundle, *super().get_urls()]

    def bundle_view(self, request, object_id):
        """The bundle the recipient got, as the API serves it: never cached, audited."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        disclosure = self.get_object(request, unquote(object_id))
        if disclosure is None:
            raise Http404
        audit_record(
            actor=request.user, action=AuditAction.READ, obj=disclosure, patient=disclosure.patient
        )
        response = HttpResponse(json.dumps(disclosure.bundle), content_type=FHIR_JSON)
        response["Content-Disposition"] = f'attachment; filename="disclosure-{disclosure.pk}.json"'
        return never_cache_privately(response)
