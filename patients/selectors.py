"""Reads of the patients app, always scoped to the caller's clinics."""

from django.db.models import Prefetch, QuerySet

from clinic.selectors import clinic_ids_for_user
from patients.models import ActivationCode, Assessment, Consent, Patient, PatientContact


def patients_in_reach(*, user) -> QuerySet[Patient]:
    """The patients of the caller's clinics: another clinic's patient is a 404, like a missing
    one."""
    return Patient.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def patient_list(*, user) -> QuerySet[Patient]:
    return (
        patients_in_reach(user=user)
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


def activation_codes_open(*, patient: Patient) -> QuerySet[ActivationCode]:
    """Codes of the patient not used, locked or revoked (expired ones included: still open)."""
    return ActivationCode.objects.filter(
        patient=patient, used_at=None, locked_at=None, revoked_at=None
    )


def has_active_app_account(patient: Patient) -> bool:
    return patient.app_user_id is not None and patient.app_user.is_active
