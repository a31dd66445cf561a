"""The patient's own consents (and revoking one) and who got their records."""

import datetime

import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    ConsentFactory,
    DisclosureFactory,
    PatientFactory,
    app_account,
    client_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(clinic, admissions, frozen_time):
    return PatientFactory(clinic=clinic, actor=admissions)


def test_the_patient_sees_the_disclosures_of_the_last_three_years_newest_first(clinic, patient):
    ConsentFactory(patient=patient, signed_on=datetime.date(2022, 1, 3))
    with time_machine.travel(TUESDAY_10AM - datetime.timedelta(days=3 * 366), tick=False):
        DisclosureFactory(patient=patient)
    with time_machine.travel(TUESDAY_10AM - datetime.timedelta(days=30), tick=False):
        older = DisclosureFactory(patient=patient)
    newer = DisclosureFactory(patient=patient, recipient_name="harbor county drug court")
    someone_else = PatientFactory(clinic=clinic)
    ConsentFactory(patient=someone_else)
    DisclosureFactory(patient=someone_else)

    rows = client_of(app_account(patient)).get("/api/v1/me/disclosures/").json()["results"]

    assert [row["id"] for row in rows] == [newer.pk, older.pk]
    assert set(rows[0]) >= {"disclosed_at", "recipient_name", "purpose", "categories"}
    assert rows[0]["categories"] == ["attendance"]


def test_the_patient_lists_and_revokes_their_own_consent(patient, frozen_time):
    consent = ConsentFactory(patient=patient)
    user = app_account(patient)
    client = client_of(user)

    listing = client.get("/api/v1/me/consents/").json()["results"]
    revoked = client.post(f"/api/v1/me/consents/{consent.pk}/revoke/", {}, format="json")
    again = client.post(f"/api/v1/me/consents/{consent.pk}/revoke/", {}, format="json")

    assert [row["id"] for row in listing] == [consent.pk]
    assert revoked.status_code == 200
    assert revoked.json()["revoked_on"] == "2026-12-01"
    assert revoked.json()["is_active"] is False
    consent.refresh_from_db()
    assert (consent.revoked_by, consent.revoked_at) == (user, frozen_time)
    assert again.status_code == 409
    assert again.json()["code"] == "already_revoked"
    assert AuditEvent.objects.filter(
        actor=user, action=AuditAction.UPDATE, object_type="patients.consent"
    ).exists()


def test_another_patients_consent_is_404(clinic, patient):
    theirs = ConsentFactory(patient=PatientFactory(clinic=clinic))

    response = client_of(app_account(patient)).post(f"/api/v1/me/consents/{theirs.pk}/revoke/")

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_on is None
