"""The whole activation flow from the front desk to logout, and the code's lifetime."""

import datetime
import re

import pytest
import time_machine

from tests.patients.activation.helpers import (
    NOW,
    PASSWORD,
    REFUSED,
    activate,
    anonymous,
    bearer,
    issue,
)

pytestmark = pytest.mark.django_db


# The whole flow ----------------------------------------------------------------------------------


def test_the_patient_flow_from_front_desk_to_logout(staff, patient):
    # given: the front desk issues a code
    issued = issue(staff, patient)
    assert issued.status_code == 201
    assert set(issued.json()) == {"activation_code", "expires_at"}
    assert "no-store" in issued["Cache-Control"]
    code = issued.json()["activation_code"]
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}", code)

    # when: the patient activates in the app
    activated = activate(code)

    # then: tokens for a new account linked to the patient
    assert activated.status_code == 201
    tokens = activated.json()
    assert set(tokens) == {"access", "refresh"}
    patient.refresh_from_db()
    assert patient.app_user.username == "robin-app"
    assert patient.app_user.check_password(PASSWORD)

    schedule = bearer(tokens["access"]).get("/api/v1/me/schedule/")
    assert schedule.status_code == 200
    assert schedule.json()["results"] == []

    refreshed = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    rotated = refreshed.json()
    assert rotated["refresh"] != tokens["refresh"]
    assert bearer(rotated["access"]).get("/api/v1/me/schedule/").status_code == 200

    assert anonymous().post(
        "/api/v1/auth/logout/", {"refresh": rotated["refresh"]}
    ).status_code == (204)
    after_logout = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": rotated["refresh"]})
    assert after_logout.status_code == 401
    assert after_logout.json()["code"] == "token_not_valid"
    # The rotated-away token is void too (its reuse would also void the chain).
    reused = anonymous().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert reused.status_code == 401

    # and the patient signs in again with the chosen password
    again = anonymous().post("/api/v1/auth/token/", {"username": "robin-app", "password": PASSWORD})
    assert again.status_code == 200


def test_the_code_is_typed_loosely(code):
    typed = code.replace("-", " ").lower()

    assert activate(f"  {typed} ").status_code == 201


def test_the_code_expires_after_activation_code_hours(settings, staff, patient, admissions):
    settings.ACTIVATION_CODE_HOURS = 72
    with time_machine.travel(NOW, tick=False):
        issued = issue(staff, patient).json()
    assert issued["expires_at"] == "2026-12-04T15:00:00Z"

    with time_machine.travel(NOW + datetime.timedelta(hours=72), tick=False):
        expired = activate(issued["activation_code"])
    with time_machine.travel(NOW + datetime.timedelta(hours=71, minutes=59), tick=False):
        in_time = activate(issued["activation_code"])

    assert (expired.status_code, expired.json()) == (400, REFUSED)
    assert in_time.status_code == 201


def test_the_lifetime_is_a_setting(settings, staff, patient):
    settings.ACTIVATION_CODE_HOURS = 1
    with time_machine.travel(NOW, tick=False):
        code = issue(staff, patient).json()["activation_code"]
    with time_machine.travel(NOW + datetime.timedelta(minutes=61), tick=False):
        response = activate(code)

    assert (response.status_code, response.json()) == (400, REFUSED)
