"""Issuing activation codes: random, stored only as a keyed hash, audited, by admissions of the
patient's clinic."""

import datetime
import logging

import pytest
from django.db import connection

from clinic.models import AuditEvent
from patients import activation
from patients.models import ActivationCode
from tests.factories import PatientFactory, staff_user
from tests.patients.activation.helpers import BIRTH, REFUSED, activate, anonymous, bearer, issue

pytestmark = pytest.mark.django_db


# Issuing ------------------------------------------------------------------------------------------


def test_the_plain_code_is_stored_nowhere(staff, patient, caplog):
    caplog.set_level(logging.DEBUG)
    code = issue(staff, patient).json()["activation_code"]
    forms = {code, code.replace("-", ""), code.replace("-", "").lower()}
    assert activate(code, date_of_birth=datetime.date(1990, 1, 1)).status_code == 400
    assert activate(code).status_code == 201

    row = ActivationCode.objects.get(patient=patient)
    assert row.code_hash == activation.code_hash(code)
    assert len(row.code_hash) == 64
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        assert "patients_activationcode" in tables
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" AS t')  # noqa: S608
            for (text,) in cursor.fetchall():
                assert not any(form in text for form in forms), table
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(form in logged for form in forms)


def test_the_hash_is_keyed_with_the_secret_key(settings):
    before = activation.code_hash("ABCD-EFGH-JKMN")
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"

    assert activation.code_hash("ABCD-EFGH-JKMN") != before


def test_codes_are_random(staff, clinic, admissions):
    codes = {
        issue(
            staff,
            PatientFactory(
                clinic=clinic,
                actor=admissions,
                first_name=f"P{'a' * n}",
                last_name="Okafor",
                date_of_birth=BIRTH,
                reachable=True,
                phone="",
                reminder_channels=[],
            ),
        ).json()["activation_code"]
        for n in range(20)
    }

    assert len(codes) == 20


def test_issuing_is_audited_without_the_code(staff, admissions, patient):
    code = issue(staff, patient).json()["activation_code"]

    event = AuditEvent.objects.get(object_type="patients.activationcode", action="create")
    assert event.actor == admissions
    assert event.patient_id == patient.pk
    assert event.clinic_id == patient.clinic_id
    assert code not in str(vars(event))


def test_activating_is_audited_with_the_new_account_as_actor(code, patient):
    activate(code)

    patient.refresh_from_db()
    event = AuditEvent.objects.get(object_type="patients.activationcode", action="update")
    assert event.actor == patient.app_user
    assert event.patient_id == patient.pk


def test_a_new_code_replaces_the_earlier_one(staff, patient):
    first = issue(staff, patient).json()["activation_code"]
    second = issue(staff, patient).json()["activation_code"]

    assert activate(first).json() == REFUSED
    assert activate(second).status_code == 201
    assert ActivationCode.objects.filter(patient=patient, revoked_at__isnull=False).count() == 1


def test_no_code_while_the_patient_has_an_active_account(code, staff, patient):
    assert activate(code).status_code == 201

    response = issue(staff, patient)

    assert response.status_code == 409
    assert response.json()["code"] == "app_account_active"


@pytest.mark.parametrize("role", ["clinician", "supervisor"])
def test_only_admissions_issue_codes(client_for, clinic, patient, role):
    response = issue(client_for(staff_user(role=role, clinics=[clinic])), patient)

    assert response.status_code == 403
    assert not ActivationCode.objects.exists()


def test_another_clinics_patient_is_404(client_for, other_clinic, patient):
    response = issue(client_for(staff_user(role="admissions", clinics=[other_clinic])), patient)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_patients_account_and_anonymous_callers_cannot_issue(client_for, code, patient):
    tokens = activate(code).json()

    assert issue(bearer(tokens["access"]), patient).status_code == 403
    assert issue(anonymous(), patient).status_code == 401
