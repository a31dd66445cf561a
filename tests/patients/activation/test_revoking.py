"""Revoked app access: every token stops at once, a new code makes a new account, supervisors
only."""

import pytest
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from clinic.models import AuditEvent
from tests.factories import staff_user
from tests.patients.activation.helpers import PASSWORD, REFUSED, activate, anonymous, bearer, issue

pytestmark = pytest.mark.django_db


# Revoked app access -------------------------------------------------------------------------------


def test_revoking_stops_every_token_at_once(code, client_for, supervisor, patient):
    tokens = activate(code).json()
    second = (
        anonymous()
        .post("/api/v1/auth/token/", {"username": "robin-app", "password": PASSWORD})
        .json()
    )
    assert bearer(tokens["access"]).get("/api/v1/me/schedule/").status_code == 200

    response = client_for(supervisor).post(f"/api/v1/patients/{patient.pk}/app-access/revoke/")

    assert response.status_code == 204
    # The access token issued before still has minutes to live, and is refused anyway.
    refused = bearer(tokens["access"]).get("/api/v1/me/schedule/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    for refresh in (tokens["refresh"], second["refresh"]):
        again = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": refresh})
        assert again.status_code == 401
    signin = anonymous().post(
        "/api/v1/auth/token/", {"username": "robin-app", "password": PASSWORD}
    )
    assert signin.status_code == 401
    patient.refresh_from_db()
    assert not patient.app_user.is_active
    outstanding = OutstandingToken.objects.filter(user=patient.app_user)
    assert outstanding.count() == 2
    assert all(hasattr(token, "blacklistedtoken") for token in outstanding)
    assert AuditEvent.objects.filter(
        object_type="patients.patient", action="update", actor=supervisor, patient_id=patient.pk
    ).exists()


def test_after_revoking_a_new_code_makes_a_new_account(code, staff, patient):
    activate(code)
    old_user = patient.__class__.objects.get(pk=patient.pk).app_user
    assert staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code == 204

    fresh = issue(staff, patient)
    assert fresh.status_code == 201
    activated = activate(fresh.json()["activation_code"], username="robin-new")

    assert activated.status_code == 201
    patient.refresh_from_db()
    assert patient.app_user.username == "robin-new"
    old_user.refresh_from_db()
    assert not old_user.is_active


def test_revoking_an_open_code_before_activation(code, staff, patient):
    assert staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code == 204

    assert activate(code).json() == REFUSED


def test_nothing_to_revoke_is_409(staff, patient):
    response = staff.post(f"/api/v1/patients/{patient.pk}/app-access/revoke/")

    assert response.status_code == 409
    assert response.json()["code"] == "no_app_access"


def test_clinicians_cannot_revoke_and_other_clinics_get_404(client_for, clinician, code, patient):
    activate(code)
    outsider = staff_user(role="admissions", clinics=[])

    assert (
        client_for(clinician).post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code
        == 403
    )
    assert (
        client_for(outsider).post(f"/api/v1/patients/{patient.pk}/app-access/revoke/").status_code
        == 404
    )
    patient.refresh_from_db()
    assert patient.app_user.is_active
