"""The patient's app: ``/api/v1/me/...`` is for a patient's own account and nobody else.

A patient's app account is a user linked to exactly one patient (``Patient.app_user``); the
reverse accessor ``user.patient`` names that patient without this module importing the patients
app (which sits above clinic). Staff endpoints refuse these accounts on their own: the staff
permission classes require a role, and a patient's account has none.
"""

from django.core.exceptions import ObjectDoesNotExist
from rest_framework.permissions import BasePermission

from clinic.selectors import user_roles

# Checks a higher app registers on a patient's every ``me/`` request (programs: alumni access
# after discharge); each raises to refuse. Clinic cannot import programs, so it is told.
_access_checks: list = []
# What those checks decide on, as annotations the account's query loads with the user.
_access_facts: list = []
_access_fact_names: set[str] = set()


def register_patient_access_check(check, *, facts=None) -> None:
    """``check(patient)`` runs after the account is known to be a patient's; it raises (a
    ``clinic.errors.ServiceError`` for a body of its own) to refuse the request. ``facts``:
    ``facts(patient_ref)`` gives annotations of a row whose ``patient_ref`` is the patient's id;
    the token's user query loads them and hands them to the check as ``patient.access_facts``
    (any other caller's check queries for itself)."""
    if check not in _access_checks:
        _access_checks.append(check)
    if facts is not None and facts not in _access_facts:
        _access_facts.append(facts)
        _access_fact_names.update(facts("pk"))


def patient_access_facts(patient_ref: str) -> dict:
    """The registered checks' facts, as annotations (see ``register_patient_access_check``)."""
    annotations = {}
    for facts in _access_facts:
        annotations.update(facts(patient_ref))
    return annotations


def remember_patient_access_facts(user) -> None:
    """Hand a user loaded with ``patient_access_facts("patient")`` its facts as
    ``user.patient.access_facts`` (a patient's account; nothing for any other)."""
    patient = patient_of(user)
    if patient is not None:
        patient.access_facts = {name: getattr(user, name) for name in _access_fact_names}


def patient_access_check(patient) -> None:
    """Run the registered checks for ``patient`` (raises the first refusal): the app's ``me/``
    endpoints and the patient's calendar feed close together."""
    for check in _access_checks:
        check(patient)


def patient_of(user):
    """The patient whose app account ``user`` is, or None (staff, anonymous, unlinked)."""
    if not (user and user.is_authenticated):
        return None
    try:
        return user.patient
    except ObjectDoesNotExist:
        return None


class IsPatient(BasePermission):
    """An authenticated patient's app account. Staff get 403, even a staff member who happens to
    be linked to a patient record: the roles stay apart so that a staff session never reads as
    "me" and a patient's token never reaches staff data."""

    message = "This endpoint is for the patient's app."

    def has_permission(self, request, view):
        user = request.user
        patient = patient_of(user)
        if patient is None or user.is_superuser or user_roles(user):
            return False
        patient_access_check(patient)
        return True
