"""Assessments over HTTP: the recommendation, the decision and reassessment history."""

import datetime

import pytest
import time_machine

from clinic.models import AuditEvent
from patients import services
from patients.models import Assessment
from tests.factories import PatientFactory, staff_user

pytestmark = pytest.mark.django_db

API_MD_EXAMPLE = {
    "severity": "severe",
    "dimensions": {"d1": 1, "d2": 0, "d3": 2, "d4": 2, "d5": 3, "d6": 3},
    "prior_outpatient_relapse": True,
    "daytime_obligations": False,
    "co_occurring": ["ptsd"],
}
LOW = {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 1, "d6": 0}


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ana",
        last_name="Diaz",
        date_of_birth=datetime.date(1990, 4, 2),
    )


def assess(client, patient, **body):
    return client.post("/api/v1/assessments/", {"patient": patient.pk, **body}, format="json")


def test_api_md_example_recommends_residential_with_a_rationale(client_for, clinician, patient):
    response = assess(client_for(clinician), patient, **API_MD_EXAMPLE)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["recommended_level"] == "residential"
    assert body["recommended_track"] is None
    assert body["decided_level"] is None
    assert body["assessed_by"] == clinician.username
    assert body["dimensions"] == API_MD_EXAMPLE["dimensions"]
    rationale = " ".join(body["rationale"])
    assert "relapse after earlier outpatient treatment" in rationale
    assert "recovery environment" in rationale
    assert "PTSD" in rationale


def test_moderate_with_daytime_work_recommends_the_evening_iop_track(
    client_for, admissions, patient
):
    response = assess(
        client_for(admissions),
        patient,
        severity="moderate",
        dimensions=LOW,
        daytime_obligations=True,
    )

    assert (response.json()["recommended_level"], response.json()["recommended_track"]) == (
        "iop",
        "evening",
    )


@pytest.mark.parametrize(
    ("count", "severity", "level"),
    [
        (1, "none", "outpatient"),
        (3, "mild", "outpatient"),
        (5, "moderate", "iop"),
        (6, "severe", "php"),
    ],
)
def test_a_criteria_count_derives_the_severity(
    client_for, clinician, patient, count, severity, level
):
    response = assess(client_for(clinician), patient, criteria_count=count, dimensions=LOW)

    assert response.status_code == 201
    assert (response.json()["severity"], response.json()["criteria_count"]) == (severity, count)
    assert response.json()["recommended_level"] == level


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dimensions": LOW}, "severity"),  # neither severity nor count
        ({"severity": "mild", "criteria_count": 7, "dimensions": LOW}, "severity"),
        ({"severity": "mild", "dimensions": {**LOW, "d4": 5}}, "dimensions"),
        ({"severity": "mild", "dimensions": {"d1": 1}}, "dimensions"),
        ({"severity": "awful", "dimensions": LOW}, "severity"),
        ({"severity": "mild", "dimensions": LOW, "co_occurring": ["flu"]}, "co_occurring"),
        ({"severity": "mild", "dimensions": LOW, "criteria_count": 12}, "criteria_count"),
        (
            {"severity": "mild", "dimensions": LOW, "assessed_at": "2999-01-01T00:00:00Z"},
            "assessed_at",
        ),
    ],
)
def test_bad_assessments_are_400_with_field_messages(client_for, clinician, patient, body, field):
    response = assess(client_for(clinician), patient, **body)

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Assessment.objects.exists()


def test_the_decision_needs_a_reason_only_when_it_differs(client_for, clinician, patient):
    client = client_for(clinician)
    assessment_id = assess(client, patient, **API_MD_EXAMPLE).json()["id"]

    without_reason = client.patch(
        f"/api/v1/assessments/{assessment_id}/", {"decided_level": "php"}, format="json"
    )
    with_reason = client.patch(
        f"/api/v1/assessments/{assessment_id}/",
        {"decided_level": "php", "override_reason": "Stable housing; patient prefers PHP."},
        format="json",
    )

    assert without_reason.status_code == 400
    assert "override_reason" in without_reason.json()["fields"]
    assert with_reason.status_code == 200
    body = with_reason.json()
    assert (body["decided_level"], body["level"], body["decided_by"]) == (
        "php",
        "php",
        clinician.username,
    )
    assert body["recommended_level"] == "residential"  # the recommendation is kept


def test_agreeing_with_the_recommendation_needs_no_reason(client_for, clinician, patient):
    client = client_for(clinician)
    assessment_id = assess(client, patient, severity="moderate", dimensions=LOW).json()["id"]

    response = client.patch(
        f"/api/v1/assessments/{assessment_id}/", {"decided_level": "iop"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["decided_level"], response.json()["decided_track"]) == ("iop", "day")


def test_a_decision_is_final(client_for, clinician, patient):
    client = client_for(clinician)
    assessment_id = assess(client, patient, severity="mild", dimensions=LOW).json()["id"]
    client.patch(
        f"/api/v1/assessments/{assessment_id}/", {"decided_level": "outpatient"}, format="json"
    )

    again = client.patch(
        f"/api/v1/assessments/{assessment_id}/",
        {"decided_level": "iop", "override_reason": "changed my mind"},
        format="json",
    )

    assert again.status_code == 409
    assert again.json()["code"] == "already_decided"
    assert Assessment.objects.get().decided_level == "outpatient"


def test_the_database_holds_the_override_rule(patient, clinician):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    assessment = services.assessment_create(
        actor=clinician, patient=patient, severity="mild", dimensions=LOW
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Assessment.objects.filter(pk=assessment.pk).update(
            decided_level="residential", decided_by=clinician, decided_at=timezone.now()
        )


# The first assessment is dated, and an assessment cannot be dated in the future.
@time_machine.travel(datetime.datetime(2026, 11, 20, 15, tzinfo=datetime.UTC), tick=False)
def test_reassessments_keep_the_history(client_for, clinician, patient):
    client = client_for(clinician)
    first = assess(client, patient, **API_MD_EXAMPLE, assessed_at="2026-10-01T10:00:00Z").json()
    second = assess(client, patient, severity="moderate", dimensions=LOW).json()

    history = client.get(f"/api/v1/patients/{patient.pk}/assessments/").json()["results"]

    assert [row["id"] for row in history] == [second["id"], first["id"]]
    assert [row["recommended_level"] for row in history] == ["iop", "residential"]


def test_filters(client_for, clinician, patient):
    client = client_for(clinician)
    decided = assess(client, patient, severity="mild", dimensions=LOW).json()["id"]
    client.patch(f"/api/v1/assessments/{decided}/", {"decided_level": "outpatient"}, format="json")
    open_one = assess(client, patient, **API_MD_EXAMPLE).json()["id"]

    undecided = client.get("/api/v1/assessments/?decided=false").json()["results"]
    residential = client.get("/api/v1/assessments/?recommended_level=residential").json()

    assert [row["id"] for row in undecided] == [open_one]
    assert [row["id"] for row in residential["results"]] == [open_one]


def test_roles_and_scoping(client_for, supervisor, clinician, patient, other_clinic):
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    assessment_id = assess(client_for(clinician), patient, severity="mild", dimensions=LOW).json()[
        "id"
    ]

    supervisor_client = client_for(supervisor)
    assert supervisor_client.get(f"/api/v1/assessments/{assessment_id}/").status_code == 200
    assert assess(supervisor_client, patient, severity="mild", dimensions=LOW).status_code == 403

    outsider_client = client_for(outsider)
    assert outsider_client.get(f"/api/v1/assessments/{assessment_id}/").status_code == 404
    assert outsider_client.get("/api/v1/assessments/").json()["results"] == []
    refused = assess(outsider_client, patient, severity="mild", dimensions=LOW)
    assert refused.status_code == 400
    assert "patient" in refused.json()["fields"]
    assert (
        outsider_client.patch(
            f"/api/v1/assessments/{assessment_id}/", {"decided_level": "outpatient"}, format="json"
        ).status_code
        == 404
    )


def test_reads_and_writes_are_audited_with_the_patient(client_for, clinician, patient):
    client = client_for(clinician)
    assessment_id = assess(client, patient, severity="mild", dimensions=LOW).json()["id"]
    client.get(f"/api/v1/assessments/{assessment_id}/")
    client.get("/api/v1/assessments/")

    events = AuditEvent.objects.filter(object_type="patients.assessment").order_by("id")

    assert [e.action for e in events] == ["create", "read", "list"]
    assert {e.patient_id for e in events} == {patient.pk}


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_assessment_list_queries_do_not_grow_with_the_page(
    client_for, supervisor, clinician, patient, page_size, django_assert_num_queries
):
    for _ in range(200):
        services.assessment_create(
            actor=clinician, patient=patient, severity="mild", dimensions=LOW
        )
    client = client_for(supervisor)

    # roles, clinic ids, count, page (with patient and users joined), audit insert
    with django_assert_num_queries(5):
        response = client.get(f"/api/v1/assessments/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size
