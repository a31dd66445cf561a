"""Reads of the patients app, always scoped to the caller's clinics."""

from django.db.models import Prefetch, QuerySet

from clinic.selectors import clinic_ids_for_user
from patients.models import Assessment, Consent, Patient, PatientContact


def patient_list(*, user) -> QuerySet[Patient]:
    return (
        Patient.objects.filter(clinic_id__in=clinic_ids_for_user(user))
        .select_related("reminder_channels_recorded_by")
        .prefetch_related(
            Prefetch("contacts", queryset=PatientContact.objects.order_by("kind", "name", "id"))
        )
    )


def assessment_list(*, user) -> QuerySet[Assessment]:
    return Assessment.objects.filter(
        patient__clinic_id__in=clinic_ids_for_user(user)
    ).select_related("patient", "assessed_by", "decided_by")


def consent_list(*, patient: Patient) -> QuerySet[Consent]:
    return patient.consents.select_related("patient__clinic", "recorded_by")


def contact_list(*, patient: Patient) -> QuerySet[PatientContact]:
    return patient.contacts.select_related("patient")


def patient_of_app_user(*, user) -> Patient:
    """The patient whose app account ``user`` is, with the clinic (``me/``)."""
    return Patient.objects.select_related("clinic").get(app_user=user)
