"""Disclosures over HTTP: the accounting, a new disclosure (201 or 409 ``no_consent``) and the
FHIR bundle it sent."""

import pytest

from clinic.models import AuditAction, AuditEvent
from programs.models import Disclosure
from tests.factories import (
    ClinicFactory,
    ConsentFactory,
    DisclosureFactory,
    PatientFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

BODY = {
    "recipient_name": "Harbor Outpatient Clinic",
    "recipient_address": "12 Elm St, Harbor City",
    "purpose": "treatment",
    "categories": ["demographics", "attendance"],
}


@pytest.fixture
def patient(clinic, admissions, frozen_time):
    return PatientFactory(clinic=clinic, actor=admissions)


def test_a_covered_disclosure_is_201_with_its_bundle_link(client_for, clinician, patient):
    ConsentFactory(patient=patient, tpo=True)

    response = client_for(clinician).post(
        f"/api/v1/patients/{patient.pk}/disclosures/", BODY, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    disclosure = Disclosure.objects.get()
    assert body["id"] == disclosure.pk
    assert body["categories"] == ["demographics", "attendance"]
    assert body["bundle_url"].endswith(f"/api/v1/disclosures/{disclosure.pk}/bundle/")


def test_an_uncovered_disclosure_is_409_naming_what_is_missing_and_records_nothing(
    client_for, admissions, patient
):
    consent = ConsentFactory(patient=patient, tpo=True, categories=["demographics"])
    audits = AuditEvent.objects.count()

    response = client_for(admissions).post(
        f"/api/v1/patients/{patient.pk}/disclosures/", BODY, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "no_consent"
    assert response.json()["missing"] == ["category not covered: attendance"]
    assert response.json()["consent"] == consent.pk
    assert not Disclosure.objects.exists()
    assert AuditEvent.objects.count() == audits


def test_supervisors_read_the_accounting_but_do_not_disclose(client_for, supervisor, patient):
    ConsentFactory(patient=patient)
    older = DisclosureFactory(patient=patient)
    newer = DisclosureFactory(patient=patient)
    client = client_for(supervisor)

    listing = client.get(f"/api/v1/patients/{patient.pk}/disclosures/")
    posting = client.post(f"/api/v1/patients/{patient.pk}/disclosures/", BODY, format="json")

    assert [row["id"] for row in listing.json()["results"]] == [newer.pk, older.pk]
    assert (
        listing["Cache-Control"].startswith("max-age=0") or "no-store" in listing["Cache-Control"]
    )
    assert posting.status_code == 403


def test_another_clinics_patient_is_404(client_for, patient):
    outsider = staff_user(role="clinician", clinics=[ClinicFactory()])

    response = client_for(outsider).post(
        f"/api/v1/patients/{patient.pk}/disclosures/", BODY, format="json"
    )

    assert response.status_code == 404


def test_the_bundle_is_fhir_json_never_cached_and_audited(client_for, supervisor, patient):
    ConsentFactory(patient=patient)
    disclosure = DisclosureFactory(patient=patient)

    response = client_for(supervisor).get(
        f"/api/v1/disclosures/{disclosure.pk}/bundle/", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "no-store" in response["Cache-Control"]
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert "Consent" in {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    audit = AuditEvent.objects.filter(object_type="programs.disclosure").latest("id")
    assert (audit.action, audit.actor, audit.patient_id) == (
        AuditAction.READ,
        supervisor,
        patient.pk,
    )


def test_another_clinics_bundle_is_404_with_the_error_body(client_for, patient):
    ConsentFactory(patient=patient)
    disclosure = DisclosureFactory(patient=patient)
    outsider = staff_user(role="supervisor", clinics=[ClinicFactory()])

    response = client_for(outsider).get(f"/api/v1/disclosures/{disclosure.pk}/bundle/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_a_consent_missing_elements_is_400_with_a_field_per_element(
    client_for, admissions, patient
):
    response = client_for(admissions).post(
        f"/api/v1/patients/{patient.pk}/consents/",
        {
            "information": "Attendance",
            "recipients": "Harbor Outpatient Clinic",
            "purpose": "Coordination of care",
            "signed_on": "2026-11-01",
            "expiry_event": "end_of_treatment",
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "recipient_names",
        "purposes",
        "categories",
        "revocation_how",
        "treatment_conditioned",
    }


def test_a_tpo_consent_without_expiry_is_recorded(client_for, admissions, patient):
    response = client_for(admissions).post(
        f"/api/v1/patients/{patient.pk}/consents/",
        {
            "information": "Everything needed for my care",
            "recipients": "My treating providers and payers",
            "purpose": "Treatment, payment, operations",
            "recipients_tpo": True,
            "purposes": ["treatment", "payment", "operations"],
            "categories": ["demographics", "enrollments"],
            "revocation_how": "In writing, at any time.",
            "no_expiry": True,
            "signed_on": "2026-11-01",
            "treatment_conditioned": False,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["missing_elements"] == []
    assert response.json()["is_active"] is True
