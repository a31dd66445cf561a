"""Programs and enrollments (API.md "Programs and enrollments"; DESIGN.md "Invariants")."""

import datetime
import threading

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AuditEvent, Bed, StaffAlert
from patients import services as patient_services
from programs.models import Enrollment, Transition
from programs.services import enrollments as services
from programs.tasks import waitlist_expire_offers_task
from tests.factories import PatientFactory, ProgramFactory, staff_user

pytestmark = pytest.mark.django_db

# 2026-12-01 10:00 in New York (the demo clinic's zone).
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
frozen = time_machine.travel(NOW, tick=False)


def clinic_today(clinic) -> datetime.date:
    return timezone.localdate(timezone=clinic.zone)


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture
def residential(clinic):
    return ProgramFactory(clinic=clinic, level="residential", capacity=2)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(clinic=clinic, level="iop", capacity=5, track="day")


@pytest.fixture
def patients(clinic, admissions):
    return [PatientFactory(clinic=clinic, actor=admissions) for _ in range(4)]


def step_down_after_a_stay(admissions, clinician, patient, residential, iop, **extra):
    """A residential stay from TODAY, stepped down to ``iop`` the next day: the transition."""
    source = services.enrollment_create(
        actor=admissions, patient=patient, program=residential, start_date=TODAY
    )
    return services.transition_create(
        actor=clinician,
        enrollment=source,
        to_program=iop,
        date=day(1),
        kind="step_down",
        reason="stable",
        **extra,
    )


def enroll(client, patient, program, start="2026-12-01", **extra):
    return client.post(
        "/api/v1/enrollments/",
        {"patient": patient.pk, "program": program.pk, "start_date": start, **extra},
        format="json",
    )


# Programs -----------------------------------------------------------------------------------------


@frozen
def test_program_list_shows_bounds_counts_and_free_places(
    client_for, supervisor, admissions, residential, iop, patients
):
    services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )
    services.enrollment_create(
        actor=admissions, patient=patients[1], program=residential, start_date=day(5)
    )  # reserved: counts against free places

    rows = client_for(supervisor).get("/api/v1/programs/?level=residential").json()["results"]

    assert len(rows) == 1
    row = rows[0]
    assert {
        key: row[key]
        for key in [
            "level",
            "track",
            "capacity",
            "min_stay_days",
            "max_stay_days",
            "sessions_per_week_min",
            "session_hours_max",
            "active_count",
            "free_places",
        ]
    } == {
        "level": "residential",
        "track": None,
        "capacity": 2,
        "min_stay_days": 28,
        "max_stay_days": 90,
        "sessions_per_week_min": None,
        "session_hours_max": None,
        "active_count": 1,
        "free_places": 0,
    }


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"capacity": 0}, "program_capacity_positive"),
        # min > max cannot hold with any planned stay: one of the stay constraints refuses.
        ({"min_stay_days": 91}, "program_stay_bounds_ordered|program_default_stay"),
        ({"sessions_per_week_min": 6, "sessions_per_week_max": 5}, "program_cadence_ordered"),
        ({"sessions_per_week_max": 8}, "program_cadence_within_a_week"),
        ({"session_hours_min": 5}, "program_session_hours_ordered"),
        ({"track": "evening"}, "program_track_only_for_day_programs"),
    ],
)
def test_program_sanity_is_held_by_the_database(clinic, changes, constraint):
    level = (
        "iop"
        if "session_hours_min" in changes
        or "sessions_per_week_min" in changes
        or "sessions_per_week_max" in changes
        else "residential"
    )

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ProgramFactory(clinic=clinic, level=level, **{"capacity": 2, **changes})


@frozen
@pytest.mark.parametrize("page_size", [1, 20, 100])
def test_program_list_queries_do_not_grow_with_the_page(
    client_for, supervisor, clinic, admissions, page_size, django_assert_num_queries
):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    for index in range(100):
        program = ProgramFactory(
            clinic=clinic, level="iop", capacity=3, name=f"IOP {index}", track="day"
        )
        services.enrollment_create(
            actor=admissions, patient=patient, program=program, start_date=TODAY
        )

    # roles, clinic ids, count, page, occupying enrollments, held offers
    with django_assert_num_queries(6):
        response = client_for(supervisor).get(f"/api/v1/programs/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size
    assert {row["active_count"] for row in response.json()["results"]} == {1}


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
                actor=admissions, patient=patient, program=program, start_date=clinic_today(clinic)
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
        actor=admissions, patient=patients[0], program=residential, start_date=clinic_today(clinic)
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


@frozen
def test_roles(client_for, clinic, residential, patients, admissions):
    clinician = staff_user(role="clinician", clinics=[clinic])
    supervisor = staff_user(role="supervisor", clinics=[clinic])
    enrollment = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )

    assert enroll(client_for(clinician), patients[1], residential).status_code == 403
    assert enroll(client_for(supervisor), patients[1], residential).status_code == 403
    assert client_for(supervisor).get(f"/api/v1/enrollments/{enrollment.pk}/").status_code == 200
    assert (
        client_for(clinician)
        .post(
            f"/api/v1/enrollments/{enrollment.pk}/discharge/",
            {"date": "2026-12-01", "reason": "completed"},
            format="json",
        )
        .status_code
        == 200
    )


@frozen
def test_another_clinics_enrollments_and_programs_are_out_of_reach(
    client_for, admissions, other_clinic, patients, residential
):
    outsider = staff_user(role="admissions", clinics=[other_clinic])
    outside_patient = PatientFactory(clinic=other_clinic, actor=outsider)
    outside_program = ProgramFactory(clinic=other_clinic, level="residential", capacity=2)
    hidden = services.enrollment_create(
        actor=outsider, patient=outside_patient, program=outside_program, start_date=TODAY
    )
    client = client_for(admissions)

    assert client.get(f"/api/v1/enrollments/{hidden.pk}/").status_code == 404
    assert client.get("/api/v1/enrollments/").json()["results"] == []
    assert client.get(f"/api/v1/programs/{outside_program.pk}/").status_code == 404
    refused = enroll(client, patients[0], outside_program)
    assert refused.status_code == 400
    assert "program" in refused.json()["fields"]
    assert (
        client.post(
            f"/api/v1/enrollments/{hidden.pk}/discharge/",
            {"date": "2026-12-01", "reason": "completed"},
            format="json",
        ).status_code
        == 404
    )


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_enrollment_list_queries_do_not_grow_with_the_page(
    client_for, supervisor, clinic, admissions, page_size, django_assert_num_queries
):
    program = ProgramFactory(clinic=clinic, level="outpatient", capacity=500)
    for _ in range(200):
        services.enrollment_create(
            actor=admissions,
            patient=PatientFactory(clinic=clinic, actor=admissions),
            program=program,
            start_date=clinic_today(clinic),
        )

    # roles, clinic ids, count, page (program and patient joined), the page's status history
    # (its users joined), audit insert
    with django_assert_num_queries(6):
        response = client_for(supervisor).get(f"/api/v1/enrollments/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size


# Waitlist -----------------------------------------------------------------------------------------


def test_a_freed_place_is_offered_to_the_head_of_the_waitlist_once(admissions, clinic, patients):
    program = ProgramFactory(clinic=clinic, level="residential", capacity=1)
    with time_machine.travel(NOW, tick=False):
        present = services.enrollment_create(
            actor=admissions, patient=patients[0], program=program, start_date=TODAY
        )
        routine = services.enrollment_create(
            actor=admissions, patient=patients[1], program=program, start_date=TODAY, waitlist=True
        )
        urgent = services.enrollment_create(
            actor=admissions,
            patient=patients[2],
            program=program,
            start_date=TODAY,
            waitlist=True,
            priority=5,
        )

        services.enrollment_discharge(
            actor=admissions, enrollment=present, date=TODAY, reason="completed"
        )

    urgent.refresh_from_db()
    routine.refresh_from_db()
    assert urgent.offered_at == NOW
    assert urgent.offer_expires_at == NOW + datetime.timedelta(hours=48)
    assert routine.offered_at is None
    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.recipient_role, alert.patient_id) == (
        "waitlist_offer",
        "admissions",
        patients[2].pk,
    )
    # The held place is not free for anyone else...
    with time_machine.travel(NOW, tick=False), pytest.raises(Conflict):
        services.enrollment_create(
            actor=admissions, patient=patients[3], program=program, start_date=TODAY
        )
    # ...but the offered patient is admitted into it (a staff action, never automatic).
    with time_machine.travel(NOW, tick=False):
        admitted = services.enrollment_admit(actor=admissions, enrollment=urgent)
    assert admitted.status == "admitted"


def test_an_expired_offer_passes_on_and_the_patient_goes_behind(admissions, clinic, patients):
    program = ProgramFactory(
        clinic=clinic, level="residential", capacity=1, waitlist_offer_hours=24
    )
    with time_machine.travel(NOW, tick=False):
        present = services.enrollment_create(
            actor=admissions, patient=patients[0], program=program, start_date=TODAY
        )
        first = services.enrollment_create(
            actor=admissions, patient=patients[1], program=program, start_date=TODAY, waitlist=True
        )
        second = services.enrollment_create(
            actor=admissions, patient=patients[2], program=program, start_date=TODAY, waitlist=True
        )
        services.enrollment_discharge(
            actor=admissions, enrollment=present, date=TODAY, reason="completed"
        )

    with time_machine.travel(NOW + datetime.timedelta(hours=23), tick=False):
        assert waitlist_expire_offers_task() == 0
    with time_machine.travel(NOW + datetime.timedelta(hours=25), tick=False):
        assert waitlist_expire_offers_task() == 1
        assert waitlist_expire_offers_task() == 0  # idempotent

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.passed_over, first.offer_expires_at) == (True, None)
    assert second.offer_expires_at is not None
    assert list(services.waitlist_queue(program)) == [second, first]
    assert StaffAlert.objects.filter(kind="waitlist_offer").count() == 2


@frozen
def test_cancelling_a_waitlisted_enrollment(client_for, admissions, residential, patients):
    client = client_for(admissions)
    enroll(client, patients[0], residential)
    enroll(client, patients[1], residential)
    waiting = enroll(client, patients[2], residential, waitlist=True).json()

    response = client.post(f"/api/v1/enrollments/{waiting['id']}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = enroll(client, patients[2], residential, waitlist=True)
    assert again.status_code == 201  # a new waitlist entry is possible after a cancellation


@frozen
def test_one_waitlist_entry_per_patient_and_program(client_for, admissions, residential, patients):
    client = client_for(admissions)
    enroll(client, patients[0], residential)
    enroll(client, patients[1], residential)
    enroll(client, patients[2], residential, waitlist=True)

    response = enroll(client, patients[2], residential, waitlist=True)

    assert response.status_code == 409
    assert response.json()["code"] == "already_waitlisted"


# Transitions --------------------------------------------------------------------------------------


@frozen
def test_api_md_step_down(client, admissions, clinic, residential, iop, patients):
    clinician = staff_user(role="clinician", clinics=[clinic])
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=day(-28)
    )
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(clinician)

    response = api.post(
        f"/api/v1/enrollments/{source.pk}/transition/",
        {
            "to_program": iop.pk,
            "date": "2026-12-29",
            "kind": "step_down",
            "reason": "stable, 28 days done",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {"id", "kind", "from_enrollment", "to_enrollment", "date", "reason"} <= set(body)
    assert (body["kind"], body["date"], body["from_enrollment"]) == (
        "step_down",
        "2026-12-29",
        source.pk,
    )
    source.refresh_from_db()
    target = Enrollment.objects.get(pk=body["to_enrollment"])
    assert (source.status, source.discharge_reason, source.discharge_date) == (
        "discharged",
        "transferred",
        datetime.date(2026, 12, 29),
    )
    assert (target.status, target.program, target.start_date) == (
        "admitted",
        iop,
        datetime.date(2026, 12, 29),
    )
    assert body["decided_by"] == clinician.username


@frozen
def test_a_transition_into_a_full_program_changes_nothing(
    admissions, clinician, clinic, residential, patients
):
    full_iop = ProgramFactory(clinic=clinic, level="iop", capacity=1, track="evening")
    services.enrollment_create(
        actor=admissions, patient=patients[1], program=full_iop, start_date=TODAY
    )
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )

    with pytest.raises(Conflict) as refused:
        services.transition_create(
            actor=clinician,
            enrollment=source,
            to_program=full_iop,
            date=day(1),
            kind="step_down",
            reason="stable",
        )

    assert refused.value.code == "program_full"
    source.refresh_from_db()
    assert source.status == "admitted"  # the discharge was rolled back with the admission
    assert not Transition.objects.exists()


@frozen
@pytest.mark.parametrize(
    ("kind", "target_level"),
    [("step_down", "residential"), ("step_up", "outpatient"), ("lateral", "iop")],
)
def test_the_kind_must_match_the_levels(
    client_for, admissions, clinic, patients, kind, target_level
):
    clinician = staff_user(role="clinician", clinics=[clinic])
    source_program = ProgramFactory(clinic=clinic, level="php", capacity=3, name="PHP")
    target = ProgramFactory(
        clinic=clinic,
        level=target_level,
        capacity=3,
        name="Target",
        track="day" if target_level == "iop" else "",
    )
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=source_program, start_date=TODAY
    )

    response = client_for(clinician).post(
        f"/api/v1/enrollments/{source.pk}/transition/",
        {"to_program": target.pk, "date": "2026-12-05", "kind": kind, "reason": "r"},
        format="json",
    )

    assert response.status_code == 400
    assert "kind" in response.json()["fields"]


@frozen
def test_only_clinicians_decide_transitions(client_for, admissions, residential, iop, patients):
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )

    response = client_for(admissions).post(
        f"/api/v1/enrollments/{source.pk}/transition/",
        {"to_program": iop.pk, "date": "2026-12-05", "kind": "step_down", "reason": "r"},
        format="json",
    )

    assert response.status_code == 403


def test_the_continuity_gap_is_flagged_past_seven_days(
    admissions, clinician, clinic, residential, iop, patients
):
    with time_machine.travel(NOW, tick=False):
        move = step_down_after_a_stay(admissions, clinician, patients[0], residential, iop)

    assert not move.gap_flagged(day(8))  # 7 days without a session yet: still within target
    assert move.gap_flagged(day(9))
    move.first_session_on = day(4)
    assert move.gap_days == 3
    assert not move.gap_flagged(day(30))
    move.first_session_on = day(9)
    assert move.gap_flagged(day(30))


@frozen
def test_transition_list_is_scoped_and_audited(
    client_for, admissions, clinician, residential, iop, patients, supervisor
):
    move = step_down_after_a_stay(admissions, clinician, patients[0], residential, iop)

    rows = client_for(supervisor).get("/api/v1/transitions/").json()["results"]

    assert [row["id"] for row in rows] == [move.pk]
    assert rows[0]["patient"] == patients[0].pk
    assert AuditEvent.objects.filter(
        action="list", object_type="programs.transition", patient_id=patients[0].pk
    ).exists()
    for patient, expected in [(patients[0], [move.pk]), (patients[1], [])]:
        filtered = client_for(supervisor).get("/api/v1/transitions/", {"patient": patient.pk})
        assert [row["id"] for row in filtered.json()["results"]] == expected


# Beds ---------------------------------------------------------------------------------------------


@frozen
def test_beds_hold_one_patient_at_a_time(client_for, admissions, clinic, residential, patients):
    bed = Bed.objects.create(clinic=clinic, room="A", label="1")
    residential.beds.add(bed)
    client = client_for(admissions)
    first = enroll(client, patients[0], residential).json()
    second = enroll(client, patients[1], residential).json()

    assigned = client.post(
        f"/api/v1/enrollments/{first['id']}/bed/", {"bed": bed.pk}, format="json"
    )
    taken = client.post(f"/api/v1/enrollments/{second['id']}/bed/", {"bed": bed.pk}, format="json")
    client.post(
        f"/api/v1/enrollments/{first['id']}/discharge/",
        {"date": "2026-12-03", "reason": "completed"},
        format="json",
    )
    later = client.post(
        f"/api/v1/enrollments/{second['id']}/bed/",
        {"bed": bed.pk, "date": "2026-12-03"},
        format="json",
    )

    assert assigned.status_code == 201
    assert taken.status_code == 409
    assert taken.json()["code"] == "bed_taken"
    assert later.status_code == 201  # the discharge released the bed


def test_the_database_refuses_two_patients_in_one_bed(clinic, admissions, residential, patients):
    from programs.models import BedAssignment

    bed = Bed.objects.create(clinic=clinic, room="A", label="1")
    today = clinic_today(clinic)
    stays = [
        services.enrollment_create(
            actor=admissions, patient=p, program=residential, start_date=today
        )
        for p in patients[:2]
    ]
    BedAssignment.objects.create(
        bed=bed, enrollment=stays[0], start_date=today, assigned_by=admissions
    )

    with pytest.raises(IntegrityError, match="bed_holds_one_patient"), transaction.atomic():
        BedAssignment.objects.create(
            bed=bed,
            enrollment=stays[1],
            start_date=today + datetime.timedelta(days=2),
            assigned_by=admissions,
        )


@frozen
def test_a_transition_and_its_enrollments_and_assessments_are_one_patients_in_the_database(
    admissions, clinician, residential, iop, patients
):
    """Composite foreign keys (programs migration 0008) refuse, whatever the code path, a
    transition whose enrollments or assessment belong to another patient, an enrollment with
    another patient's assessment, and moving an enrollment a transition names to another
    patient."""
    ana, ben = patients[0], patients[1]
    ana_assessment, ben_assessment = (
        patient_services.assessment_create(
            actor=clinician,
            patient=patient,
            severity="severe",
            dimensions={"d1": 3, "d2": 1, "d3": 1, "d4": 1, "d5": 1, "d6": 1},
        )
        for patient in (ana, ben)
    )
    move = step_down_after_a_stay(
        admissions, clinician, ana, residential, iop, assessment=ana_assessment
    )
    source = move.from_enrollment
    bens_stay = services.enrollment_create(
        actor=admissions, patient=ben, program=iop, start_date=TODAY
    )

    assert move.patient_id == ana.pk
    transitions = Transition.objects.filter(pk=move.pk)
    refused = [
        (
            "transition_to_enrollment_of_patient",
            lambda: transitions.update(to_enrollment=bens_stay),
        ),
        ("transition_from_enrollment_of_patient", lambda: transitions.update(patient=ben)),
        (
            "transition_assessment_of_patient",
            lambda: transitions.update(assessment=ben_assessment),
        ),
        (
            "enrollment_assessment_of_patient",
            lambda: Enrollment.objects.filter(pk=bens_stay.pk).update(assessment=ana_assessment),
        ),
        (
            "transition_from_enrollment_of_patient",
            lambda: Enrollment.objects.filter(pk=source.pk).update(patient=ben),
        ),
    ]
    for constraint, write in refused:
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            write()  # (the composite keys are not deferred: the write itself fails)
    # Ana's own assessment on her own stay is fine.
    Enrollment.objects.filter(pk=source.pk).update(assessment=ana_assessment)
