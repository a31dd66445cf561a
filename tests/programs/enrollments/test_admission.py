"""Admission and capacity: places, reservations, the last place under concurrency, overlapping
stays, refusals."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.errors import Conflict
from clinic.models import AuditEvent
from programs.models import Enrollment
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory
from tests.programs.enrollments.helpers import TODAY, day, enroll, frozen

pytestmark = pytest.mark.django_db


# Admission and capacity ---------------------------------------------------------------------------


@frozen
def test_api_md_admission(client_for, admissions, residential, patients):
    response = enroll(client_for(admissions), patients[0], residential)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "admitted"
    assert body["start_date"] == "2026-12-01"
    assert body["planned_end_date"] == "2026-12-31"  # the program's default stay of 30 days
    assert body["discharge_date"] is None
    assert body["discharge_reason"] is None
    assert AuditEvent.objects.filter(
        action="create", object_type="programs.enrollment", patient_id=patients[0].pk
    ).exists()


@frozen
def test_a_full_program_is_409_program_full_or_waitlists_on_request(
    client_for, admissions, residential, patients
):
    client = client_for(admissions)
    enroll(client, patients[0], residential)
    enroll(client, patients[1], residential)

    full = enroll(client, patients[2], residential)
    waitlisted = enroll(client, patients[2], residential, waitlist=True)

    assert full.status_code == 409
    assert full.json()["code"] == "program_full"
    assert waitlisted.status_code == 201
    assert waitlisted.json()["status"] == "waitlisted"


@frozen
def test_a_future_admission_reserves_its_place(admissions, residential, patients):
    services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )
    services.enrollment_create(
        actor=admissions, patient=patients[1], program=residential, start_date=day(10)
    )

    # Free today, but taken from day 10 on: an open-ended stay from today would overfill.
    with pytest.raises(Conflict) as refused:
        services.enrollment_create(
            actor=admissions, patient=patients[2], program=residential, start_date=TODAY
        )
    assert refused.value.code == "program_full"


@frozen
def test_a_same_day_discharge_frees_the_place_at_once(
    client_for, admissions, residential, patients
):
    client = client_for(admissions)
    first = enroll(client, patients[0], residential).json()
    enroll(client, patients[1], residential)

    discharged = client.post(
        f"/api/v1/enrollments/{first['id']}/discharge/",
        {"date": "2026-12-01", "reason": "ama"},
        format="json",
    )
    admitted = enroll(client, patients[2], residential)

    assert discharged.status_code == 200
    assert (discharged.json()["status"], discharged.json()["discharge_reason"]) == (
        "discharged",
        "ama",
    )
    assert admitted.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_admissions_for_the_last_place_give_exactly_one(clinic, admissions):
    program = ProgramFactory(clinic=clinic, level="residential", capacity=1)
    candidates = [PatientFactory(clinic=clinic, actor=admissions) for _ in range(20)]
    barrier = threading.Barrier(20)
    outcomes = []

    def admit(patient):
        try:
            barrier.wait()
            services.enrollment_create(
                actor=admissions, patient=patient, program=program, start_date=clinic.today()
            )
            outcomes.append("admitted")
        except Conflict as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=admit, args=(p,)) for p in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["admitted"] + ["program_full"] * 19
    assert Enrollment.objects.filter(program=program, status="admitted").count() == 1


@frozen
def test_a_second_residential_stay_is_409(client_for, admissions, clinic, patients):
    first = ProgramFactory(clinic=clinic, level="residential", capacity=5, name="North")
    second = ProgramFactory(clinic=clinic, level="residential", capacity=5, name="South")
    client = client_for(admissions)
    enroll(client, patients[0], first)

    response = enroll(client, patients[0], second, start="2026-12-05")

    assert response.status_code == 409
    assert response.json()["code"] == "overlapping_residential_stay"


def test_the_database_refuses_overlapping_stays_whatever_the_code_path(
    clinic, admissions, patients
):
    north = ProgramFactory(clinic=clinic, level="residential", capacity=5, name="North")
    south = ProgramFactory(clinic=clinic, level="residential", capacity=5, name="South")
    common = {
        "patient": patients[0],
        "status": "admitted",
        "requested_start_date": TODAY,
        "planned_end_date": day(40),
    }

    Enrollment.objects.create(program=north, level="residential", start_date=TODAY, **common)
    with (
        pytest.raises(IntegrityError, match="enrollment_one_residential_stay"),
        transaction.atomic(),
    ):
        Enrollment.objects.create(program=south, level="residential", start_date=day(3), **common)
    with (
        pytest.raises(IntegrityError, match="enrollment_no_overlap_in_program"),
        transaction.atomic(),
    ):
        Enrollment.objects.create(program=north, level="outpatient", start_date=day(3), **common)


def test_the_database_holds_the_discharge_fields_and_the_state_machine(
    clinic, admissions, residential, patients
):
    enrollment = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=clinic.today()
    )
    rows = Enrollment.objects.filter(pk=enrollment.pk)

    with (
        pytest.raises(IntegrityError, match="enrollment_discharge_iff_discharged"),
        transaction.atomic(),
    ):
        rows.update(status="discharged")
    with pytest.raises(IntegrityError, match="admitted to waitlisted"), transaction.atomic():
        rows.update(status="waitlisted")
    rows.update(
        status="discharged", discharge_date=enrollment.start_date, discharge_reason="completed"
    )
    with pytest.raises(IntegrityError, match="discharged to admitted"), transaction.atomic():
        rows.update(status="admitted", discharge_date=None, discharge_reason="")
    with pytest.raises(IntegrityError, match="starts waitlisted or admitted"), transaction.atomic():
        Enrollment.objects.create(
            patient=patients[1],
            program=residential,
            level="residential",
            status="discharged",
            start_date=enrollment.start_date,
            planned_end_date=enrollment.planned_end_date,
            discharge_date=enrollment.start_date,
            discharge_reason="completed",
        )


@frozen
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"planned_end_date": "2026-12-10"}, "planned_end_date"),  # under the 28-day minimum
        ({"planned_end_date": "2027-06-01"}, "planned_end_date"),  # over the 90-day maximum
        ({"start": "2026-10-01"}, "start_date"),  # back-dated by more than 30 days
    ],
)
def test_bad_enrollments_are_400(client_for, admissions, residential, patients, body, field):
    start = body.pop("start", "2026-12-01")

    response = enroll(client_for(admissions), patients[0], residential, start=start, **body)

    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]


@frozen
def test_state_machine_refusals_are_409(client_for, admissions, residential, patients):
    client = client_for(admissions)
    admitted = enroll(client, patients[0], residential).json()

    cancel = client.post(f"/api/v1/enrollments/{admitted['id']}/cancel/")
    admit = client.post(f"/api/v1/enrollments/{admitted['id']}/admit/", {}, format="json")
    client.post(
        f"/api/v1/enrollments/{admitted['id']}/discharge/",
        {"date": "2026-12-02", "reason": "completed"},
        format="json",
    )
    again = client.post(
        f"/api/v1/enrollments/{admitted['id']}/discharge/",
        {"date": "2026-12-03", "reason": "completed"},
        format="json",
    )

    assert [r.status_code for r in (cancel, admit, again)] == [409, 409, 409]
    assert {r.json()["code"] for r in (cancel, admit, again)} == {"invalid_state"}
