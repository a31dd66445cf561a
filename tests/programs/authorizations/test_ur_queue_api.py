"""``GET /api/v1/ur/queue/``: the reviewers' and supervisors' queue as compact rows, every record
listed audited, nothing cached; other roles are refused."""

import pytest

from clinic.models import AuditEvent
from tests.factories import ClinicFactory, client_of, staff_user
from tests.programs.authorizations.conftest import dec, nov

pytestmark = pytest.mark.django_db

URL = "/api/v1/ur/queue/"


def test_a_reviewer_gets_the_queue_as_compact_rows(queue_world, reviewer):
    response = client_of(reviewer).get(URL)

    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    low = queue_world.low_authorization
    patient = queue_world.low.patient
    assert body["authorizations_units_low"] == [
        {
            "enrollment": queue_world.low.pk,
            "program": queue_world.program.pk,
            "program_name": "House",
            "patient": patient.pk,
            "patient_name": f"{patient.last_name}, {patient.first_name}",
            "level": "residential",
            "id": low.pk,
            "number": "",
            "status": "approved",
            "payer": queue_world.payer.pk,
            "payer_name": "Harbor Health",
            "authorized_level": "residential",
            "unit": "days",
            "units_approved": 8,
            "units_used": 7,
            "units_remaining": 1,
            # 1 left at one a day: it runs out tomorrow
            "projected_exhaustion_on": dec(2).isoformat(),
            "start_date": nov(25).isoformat(),
            "end_date": dec(5).isoformat(),
            "next_review_on": None,
            "reviewer_name": "",
            "reviewer_phone": "",
        }
    ]
    past_due = body["reviews_past_due"][0]
    assert {
        key: past_due[key]
        for key in ("id", "kind", "scheduled_on", "days_overdue", "reviewer", "reviewer_phone")
    } == {
        "id": queue_world.reviews["past_due"].pk,
        "kind": "concurrent",
        "scheduled_on": nov(30).isoformat(),
        "days_overdue": 1,
        "reviewer": "R. Payer",
        "reviewer_phone": "555-0100",
    }
    assert [len(body[name]) for name in body] == [1, 1, 1, 1, 1, 2]
    uncovered = body["enrollments_without_authorization"][0]
    assert (uncovered["enrollment"], uncovered["payer_name"]) == (
        queue_world.uncovered.pk,
        "Harbor Health",
    )


def test_every_record_listed_is_audited_once(queue_world, reviewer):
    client = client_of(reviewer)

    response = client.get(URL)

    audits = AuditEvent.objects.filter(request_id=response["X-Request-ID"])
    # 3 reviews, 2 authorizations, 2 enrollments
    assert sorted(audits.values_list("object_type", flat=True)) == [
        "programs.authorization",
        "programs.authorization",
        "programs.concurrentreview",
        "programs.concurrentreview",
        "programs.concurrentreview",
        "programs.enrollment",
        "programs.enrollment",
    ]
    assert {(a.actor_id, a.action) for a in audits} == {(reviewer.pk, "list")}
    assert set(audits.values_list("patient_id", flat=True)) == {
        queue_world.roomy.patient_id,
        queue_world.low.patient_id,
        queue_world.ending.patient_id,
        queue_world.uncovered.patient_id,
        queue_world.denied.patient_id,
    }


@pytest.mark.parametrize(
    ("role", "status"), [("supervisor", 200), ("admissions", 403), ("clinician", 403)]
)
def test_supervisors_read_the_queue_and_other_roles_are_refused(queue_world, clinic, role, status):
    response = client_of(staff_user(role=role, clinics=[clinic])).get(URL)

    assert response.status_code == status


def test_the_queue_of_one_clinic_is_asked_by_its_id(queue_world, clinic, reviewer):
    other = ClinicFactory()
    client = client_of(reviewer)

    own = client.get(URL, {"clinic": clinic.pk}).json()
    foreign = client.get(URL, {"clinic": other.pk}).json()
    refused = client.get(URL, {"clinic": "house"})

    assert own == client.get(URL).json()
    assert own["reviews_past_due"]
    assert own["enrollments_without_authorization"]
    assert all(rows == [] for rows in foreign.values())
    assert refused.status_code == 400
    assert "clinic" in str(refused.json())
