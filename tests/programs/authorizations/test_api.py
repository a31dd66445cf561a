"""The utilization review API over HTTP: admissions write coverage, authorizations and reviews,
clinicians and supervisors read them with their use; outside records are 404; edits take the
version read (`If-Match`)."""

import datetime

import pytest

from tests.factories import (
    AuthorizationFactory,
    ClinicFactory,
    CoverageFactory,
    EnrollmentFactory,
    PatientFactory,
    PayerFactory,
    ProgramFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stay(clinic):
    return EnrollmentFactory(program=ProgramFactory(clinic=clinic, level="residential"))


def test_admissions_record_a_coverage_and_clinicians_only_read_it(
    client_for, clinic, admissions, clinician
):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    payer = PayerFactory(clinic=clinic, name="Blue Harbor")
    path = f"/api/v1/patients/{patient.pk}/coverages/"
    body = {"payer": payer.pk, "member_id": "M1", "start_date": "2026-01-01"}

    assert client_for(clinician).post(path, body, format="json").status_code == 403
    created = client_for(admissions).post(path, body, format="json")

    assert created.status_code == 201, created.content
    assert created["ETag"] == f'"{created.json()["id"]}-1"'
    assert created.json()["payer_name"] == "Blue Harbor"
    listed = client_for(clinician).get(path).json()["results"]
    assert [row["member_id"] for row in listed] == ["M1"]
    assert client_for(clinician).get("/api/v1/payers/").json()["results"][0]["name"] == (
        "Blue Harbor"
    )


def test_a_coverage_edit_against_a_stale_version_is_a_412(client_for, clinic, admissions):
    coverage = CoverageFactory(patient=PatientFactory(clinic=clinic))
    path = f"/api/v1/coverages/{coverage.pk}/"
    client = client_for(admissions)
    etag = client.get(path)["ETag"]

    first = client.patch(path, {"member_id": "M2"}, format="json", HTTP_IF_MATCH=etag)
    second = client.patch(path, {"member_id": "M3"}, format="json", HTTP_IF_MATCH=etag)

    assert first.status_code == 200
    assert first["ETag"] != etag
    assert second.status_code == 412
    assert client.get(path).json()["member_id"] == "M2"


def test_an_authorization_is_requested_decided_and_extended_over_http(
    client_for, stay, admissions, supervisor
):
    coverage = CoverageFactory(patient=stay.patient)
    client = client_for(admissions)
    created = client.post(
        "/api/v1/authorizations/",
        {
            "enrollment": stay.pk,
            "coverage": coverage.pk,
            "authorized_level": "residential",
            "units_requested": 7,
            "start_date": stay.start_date.isoformat(),
            "end_date": (stay.start_date + datetime.timedelta(days=6)).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    path = f"/api/v1/authorizations/{created.json()['id']}/"
    assert (created.json()["unit"], created.json()["units_remaining"]) == ("days", None)

    decided = client.post(
        path + "decide/", {"decision": "approved"}, format="json", HTTP_IF_MATCH=created["ETag"]
    )
    assert decided.status_code == 200, decided.content
    # admitted today: today is used
    assert (decided.json()["units_used"], decided.json()["units_remaining"]) == (1, 6)
    again = client.post(path + "decide/", {"decision": "denied"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")

    review = client.post(
        path + "reviews/",
        {"kind": "concurrent", "scheduled_on": stay.start_date.isoformat()},
        format="json",
    )
    assert review.status_code == 201, review.content
    recorded = client.post(
        path + f"reviews/{review.json()['id']}/record/",
        {"outcome": "approved_more", "done_on": stay.start_date.isoformat(), "units_added": 3},
        format="json",
    )
    assert recorded.status_code == 200, recorded.content
    read = client_for(supervisor).get(path).json()
    assert (read["units_approved"], read["units_remaining"], read["clinical_level"]) == (
        10,
        9,
        "residential",
    )
    reviews = client_for(supervisor).get(path + "reviews/").json()["results"]
    assert [row["outcome"] for row in reviews] == ["approved_more"]


def test_clinicians_read_but_cannot_request_or_decide(client_for, stay, clinician):
    authorization = AuthorizationFactory(enrollment=stay)
    client = client_for(clinician)
    assert client.get(f"/api/v1/authorizations/{authorization.pk}/").status_code == 200
    assert client.post("/api/v1/authorizations/", {}, format="json").status_code == 403
    decide = f"/api/v1/authorizations/{authorization.pk}/decide/"
    assert client.post(decide, {"decision": "approved"}, format="json").status_code == 403


def test_another_clinic_s_records_are_404_and_its_lists_empty(client_for, stay):
    authorization = AuthorizationFactory(enrollment=stay)
    outsider = client_for(staff_user(role="admissions", clinics=[ClinicFactory()]))
    assert outsider.get(f"/api/v1/authorizations/{authorization.pk}/").status_code == 404
    assert outsider.get(f"/api/v1/coverages/{authorization.coverage_id}/").status_code == 404
    assert outsider.get("/api/v1/authorizations/").json()["results"] == []
    request = {
        "enrollment": stay.pk,
        "coverage": authorization.coverage_id,
        "authorized_level": "residential",
        "units_requested": 3,
        "start_date": "2026-01-01",
        "end_date": "2026-01-03",
    }
    refused = outsider.post("/api/v1/authorizations/", request, format="json")
    assert refused.status_code == 400
    assert set(refused.json()["fields"]) == {"enrollment", "coverage"}


def test_an_overlapping_primary_coverage_is_a_409(client_for, clinic, admissions):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    payer = PayerFactory(clinic=clinic)
    path = f"/api/v1/patients/{patient.pk}/coverages/"
    body = {"payer": payer.pk, "start_date": "2026-01-01"}
    assert client_for(admissions).post(path, body, format="json").status_code == 201

    refused = client_for(admissions).post(path, body, format="json")

    assert (refused.status_code, refused.json()["code"]) == (409, "overlapping_primary_coverage")
