"""The patient's app: ``/api/v1/me/...`` is for a patient's own account and nobody else.

A patient's app account is a user linked to exactly one patient (``Patient.app_user``); the
reverse accessor ``user.patient`` names that patient without this module importing the patients
app (which sits above clinic). Staff endpoints refuse these accounts on their own: the staff
permission classes require a role, and a patient's account has none.
"""

from django.core.exceptions import ObjectDoesNotExist
from rest_framework.permissions import BasePermission

from clinic.selectors import user_roles


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
        if patient_of(user) is None:
            return False
        return not (user.is_superuser or user_roles(user))
