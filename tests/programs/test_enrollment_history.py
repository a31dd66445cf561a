"""An enrollment's status history (issue 18, item 5): every status-changing service appends a row
in its own transaction, the requested start date survives an admission from the waitlist, the
API and the admin show both, the database keeps the rows as written, and the migration gives
older enrollments a history from their columns."""

import datetime
import importlib

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from clinic.errors import Conflict
from programs.models import Enrollment, EnrollmentStatusChange, Transition
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, app_account
from tests.programs.enrollments.helpers import NOW, TODAY, day, step_down_after_a_stay

pytestmark = pytest.mark.django_db

# 22:00 in New York on TODAY, already the next day in UTC: the clinic's date is TODAY.
LATE = datetime.datetime(2026, 12, 2, 3, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


def history(enrollment) -> list[tuple]:
    return [
        (c.from_status, c.to_status, c.effective_date, c.changed_at, c.changed_by, c.reason)
        for c in EnrollmentStatusChange.objects.filter(enrollment=enrollment)
    ]


@pytest.fixture
def residential(clinic):
    """A one-bed residential program."""
    return ProgramFactory(clinic=clinic, level="residential", capacity=1)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(clinic=clinic, level="iop", capacity=5, track="day")


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")


@pytest.fixture
def ben(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Benjamin")


@pytest.fixture
def full_with_a_waitlist(admissions, residential, ana, ben):
    """Ana in the one bed from TODAY (made at NOW); Ben waitlisted for day(3) at LATE."""
    with at(NOW):
        stay = services.enrollment_create(
            actor=admissions, patient=ana, program=residential, start_date=TODAY
        )
    with at(LATE):
        waiting = services.enrollment_create(
            actor=admissions, patient=ben, program=residential, start_date=day(3), waitlist=True
        )
    return stay, waiting


# The services write it ----------------------------------------------------------------------------


def test_waitlist_admit_and_discharge_write_three_rows(admissions, clinician, full_with_a_waitlist):
    # given: Ben waitlisted for day(3) while Ana holds the bed
    stay, waiting = full_with_a_waitlist
    with at(LATE + HOUR):
        services.enrollment_discharge(
            actor=clinician, enrollment=stay, date=day(1), reason="completed"
        )

    # when: admitted from day(5), then discharged against advice on day(20)
    with at(LATE + 2 * HOUR):
        services.enrollment_admit(actor=admissions, enrollment=waiting, start_date=day(5))
    with at(LATE + 3 * HOUR):
        services.enrollment_discharge(
            actor=clinician, enrollment=waiting, date=day(20), reason="ama"
        )

    # then: three rows, oldest first; a waitlisting takes effect on the clinic's date
    assert history(waiting) == [
        ("", "waitlisted", TODAY, LATE, admissions, ""),
        ("waitlisted", "admitted", day(5), LATE + 2 * HOUR, admissions, ""),
        ("admitted", "discharged", day(20), LATE + 3 * HOUR, clinician, "ama"),
    ]
    # and the rows carry the service's clock, the one it stamped the enrollment with
    waiting.refresh_from_db()
    assert waiting.admitted_at == LATE + 2 * HOUR
    assert waiting.requested_at == LATE
    assert history(stay) == [
        ("", "admitted", TODAY, NOW, admissions, ""),
        ("admitted", "discharged", day(1), LATE + HOUR, clinician, "completed"),
    ]
    changes = EnrollmentStatusChange.objects.select_related("enrollment")
    assert all(c.patient_id == c.enrollment.patient_id for c in changes)


def test_a_refused_admission_writes_no_row(admissions, full_with_a_waitlist):
    _stay, waiting = full_with_a_waitlist

    with at(LATE + HOUR), pytest.raises(Conflict, match="no free place"):
        services.enrollment_admit(actor=admissions, enrollment=waiting)

    assert [row[:2] for row in history(waiting)] == [("", "waitlisted")]


def test_an_admission_that_fails_after_its_row_takes_the_row_back(
    admissions, clinician, full_with_a_waitlist, monkeypatch
):
    # given: a free bed, and the rosters failing after the admission was written
    stay, waiting = full_with_a_waitlist
    with at(LATE):
        services.enrollment_discharge(actor=clinician, enrollment=stay, date=TODAY, reason="ama")

    def broken(enrollment):
        raise RuntimeError("roster update failed")

    monkeypatch.setattr(services.schedules, "rosters_follow_admission", broken)

    # when
    with at(LATE + HOUR), pytest.raises(RuntimeError):
        services.enrollment_admit(actor=admissions, enrollment=waiting)

    # then: the history and the enrollment are as they were (one transaction)
    assert [row[:2] for row in history(waiting)] == [("", "waitlisted")]
    assert Enrollment.objects.get(pk=waiting.pk).status == "waitlisted"


def test_an_admission_from_the_waitlist_keeps_the_requested_start_date(
    admissions, clinician, full_with_a_waitlist
):
    stay, waiting = full_with_a_waitlist
    assert (waiting.start_date, waiting.requested_start_date) == (day(3), day(3))
    assert (stay.start_date, stay.requested_start_date) == (TODAY, TODAY)
    with at(LATE + HOUR):
        services.enrollment_discharge(actor=clinician, enrollment=stay, date=day(4), reason="ama")

        services.enrollment_admit(actor=admissions, enrollment=waiting, start_date=day(6))

    waiting.refresh_from_db()
    assert (waiting.start_date, waiting.requested_start_date) == (day(6), day(3))


@at(NOW)
def test_a_transition_writes_the_sources_discharge_and_the_targets_admission(
    admissions, clinician, clinic, ana
):
    residential = ProgramFactory(clinic=clinic, level="residential", capacity=2)
    iop = ProgramFactory(clinic=clinic, level="iop", capacity=5, track="day")

    move = step_down_after_a_stay(admissions, clinician, ana, residential, iop)

    # the transition's reason ("stable") on both sides, its date as their effective date
    assert history(move.from_enrollment) == [
        ("", "admitted", TODAY, NOW, admissions, ""),
        ("admitted", "discharged", day(1), NOW, clinician, "stable"),
    ]
    assert history(move.to_enrollment) == [("", "admitted", day(1), NOW, clinician, "stable")]
    assert move.created_at == NOW


@at(NOW)
def test_a_refused_transition_writes_no_row(admissions, clinician, clinic, ana, ben):
    residential = ProgramFactory(clinic=clinic, level="residential", capacity=2)
    full = ProgramFactory(clinic=clinic, level="iop", capacity=1, track="day")
    services.enrollment_create(actor=admissions, patient=ben, program=full, start_date=TODAY)
    stay = services.enrollment_create(
        actor=admissions, patient=ana, program=residential, start_date=TODAY
    )

    with pytest.raises(Conflict):
        services.transition_create(
            actor=clinician,
            enrollment=stay,
            to_program=full,
            date=day(1),
            kind="step_down",
            reason="stable",
        )

    assert [row[:2] for row in history(stay)] == [("", "admitted")]
    assert EnrollmentStatusChange.objects.count() == 2


def test_a_cancellation_writes_a_row_with_its_reason(
    client_for, admissions, full_with_a_waitlist, ben, residential
):
    _stay, waiting = full_with_a_waitlist

    with at(LATE + HOUR):
        response = client_for(admissions).post(
            f"/api/v1/enrollments/{waiting.pk}/cancel/",
            {"reason": "  Chose a program nearer home. "},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert history(waiting)[-1] == (
        "waitlisted",
        "cancelled",
        TODAY,  # 23:00 in New York
        LATE + HOUR,
        admissions,
        "Chose a program nearer home.",
    )

    # and a cancellation without a body still works, with no reason
    with at(LATE + 2 * HOUR):
        again = services.enrollment_create(
            actor=admissions, patient=ben, program=residential, start_date=day(3), waitlist=True
        )
        response = client_for(admissions).post(f"/api/v1/enrollments/{again.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert history(again)[-1][:2] == ("waitlisted", "cancelled")
    assert history(again)[-1][-1] == ""


# The API and the admin show it --------------------------------------------------------------------


def test_the_enrollment_shows_its_status_history_and_requested_start(
    client_for, admissions, clinician, supervisor, full_with_a_waitlist
):
    stay, waiting = full_with_a_waitlist
    with at(LATE + HOUR):
        services.enrollment_discharge(actor=clinician, enrollment=stay, date=day(1), reason="ama")
        services.enrollment_admit(actor=admissions, enrollment=waiting, start_date=day(5))

    body = client_for(supervisor).get(f"/api/v1/enrollments/{waiting.pk}/").json()

    assert (body["start_date"], body["requested_start_date"]) == ("2026-12-06", "2026-12-04")
    assert body["status_history"] == [
        {
            "from_status": None,
            "to_status": "waitlisted",
            "effective_date": "2026-12-01",
            "changed_at": "2026-12-02T03:00:00Z",
            "changed_by": admissions.username,
            "reason": "",
        },
        {
            "from_status": "waitlisted",
            "to_status": "admitted",
            "effective_date": "2026-12-06",
            "changed_at": "2026-12-02T04:00:00Z",
            "changed_by": admissions.username,
            "reason": "",
        },
    ]
    # the list's rows carry it too
    rows = client_for(supervisor).get("/api/v1/enrollments/").json()["results"]
    assert {row["id"]: len(row["status_history"]) for row in rows} == {stay.pk: 2, waiting.pk: 2}


@at(NOW)
def test_a_write_returns_the_history_it_wrote(client_for, admissions, residential, ana):
    response = client_for(admissions).post(
        "/api/v1/enrollments/",
        {"patient": ana.pk, "program": residential.pk, "start_date": "2026-12-03"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["requested_start_date"] == "2026-12-03"
    assert [(c["from_status"], c["to_status"]) for c in body["status_history"]] == [
        (None, "admitted")
    ]


def test_the_patient_app_shows_no_history(client_for, admissions, residential, ana):
    with at(NOW):
        services.enrollment_create(
            actor=admissions, patient=ana, program=residential, start_date=TODAY
        )
    body = client_for(app_account(ana)).get("/api/v1/me/enrollments/").json()

    assert "status_history" not in body["results"][0]


def test_the_schema_documents_the_history(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    schemas = schema["components"]["schemas"]

    enrollment = schemas["Enrollment"]["properties"]
    assert enrollment["requested_start_date"]["format"] == "date"
    assert enrollment["status_history"]["type"] == "array"
    ref = enrollment["status_history"]["items"]["$ref"].rsplit("/", 1)[-1]
    change = schemas[ref]["properties"]
    assert set(change) == {
        "from_status",
        "to_status",
        "effective_date",
        "changed_at",
        "changed_by",
        "reason",
    }
    assert change["changed_by"]["nullable"] is True
    assert change["changed_at"]["format"] == "date-time"
    # cancel takes an optional body with an optional reason
    cancel = schema["paths"]["/api/v1/enrollments/{id}/cancel/"]["post"]["requestBody"]
    assert not cancel.get("required", False)
    assert "reason" in schemas["EnrollmentCancelRequest"]["properties"]
    assert not schemas["EnrollmentCancelRequest"].get("required")


# The database keeps it ----------------------------------------------------------------------------


@at(NOW)
def test_the_history_is_append_only_and_follows_the_state_machine(
    admissions, residential, ana, ben
):
    stay = services.enrollment_create(
        actor=admissions, patient=ana, program=residential, start_date=TODAY
    )
    rows = EnrollmentStatusChange.objects.filter(enrollment=stay)

    with pytest.raises(IntegrityError, match="append-only: UPDATE"), transaction.atomic():
        rows.update(reason="rewritten")
    with pytest.raises(IntegrityError, match="append-only: DELETE"), transaction.atomic():
        rows.delete()

    def add(**fields):
        values = {
            "enrollment": stay,
            "patient_id": stay.patient_id,
            "from_status": "admitted",
            "to_status": "discharged",
            "effective_date": TODAY,
            "changed_at": NOW,
            **fields,
        }
        with transaction.atomic():
            EnrollmentStatusChange.objects.create(**values)

    with pytest.raises(IntegrityError, match="follows_state_machine"):
        add(from_status="discharged", to_status="admitted")
    with pytest.raises(IntegrityError, match="enrollment_status_change_once"):
        add(from_status="", to_status="admitted")
    with pytest.raises(IntegrityError, match="patient_is_enrollments"):
        add(patient_id=ben.pk)
    assert rows.count() == 1


def test_the_migration_gives_older_enrollments_a_history(
    admissions, clinician, clinic, residential, iop, ana, ben
):
    """The backfill of migration 0012, run on rows written without the services (as before
    0011): each gets a history from its own columns; one with a history already is left alone."""
    backfill = importlib.import_module("programs.migrations.0012_enrollment_history_backfill")
    common = {"level": "residential", "planned_end_date": day(40), "created_by": admissions}
    # an admission at creation, discharged by a transition the next day
    admitted = Enrollment.objects.create(
        patient=ana,
        program=residential,
        status="admitted",
        start_date=TODAY,
        requested_start_date=TODAY,
        requested_at=NOW,
        admitted_at=NOW,
        **common,
    )
    moved_in = Enrollment.objects.create(
        patient=ana,
        program=iop,
        level="iop",
        status="admitted",
        start_date=day(1),
        requested_start_date=day(1),
        planned_end_date=day(90),
        requested_at=NOW + HOUR,
        admitted_at=NOW + HOUR,
        created_by=clinician,
    )
    Enrollment.objects.filter(pk=admitted.pk).update(
        status="discharged",
        discharge_date=day(1),
        discharge_reason="transferred",
        updated_at=NOW + HOUR,
    )
    Transition.objects.create(
        kind="step_down",
        patient=ana,
        from_enrollment=admitted,
        to_enrollment=moved_in,
        date=day(1),
        reason="stable",
        decided_by=clinician,
        created_at=NOW + HOUR,
    )
    # waitlisted late in the evening (the next day in UTC), offered a place, admitted on day(5)
    # (its requested date overwritten, as before 0011), and cancelled
    offered = Enrollment.objects.create(
        patient=ben,
        program=residential,
        status="waitlisted",
        start_date=day(3),
        requested_start_date=day(3),
        requested_at=LATE,
        **common,
    )
    Enrollment.objects.filter(pk=offered.pk).update(
        status="admitted", start_date=day(5), offered_at=LATE + HOUR, admitted_at=LATE + 2 * HOUR
    )
    other = ProgramFactory(clinic=clinic, level="outpatient", capacity=5)
    cancelled = Enrollment.objects.create(
        patient=ben,
        program=other,
        status="waitlisted",
        start_date=day(3),
        requested_start_date=day(3),
        requested_at=NOW,
        **{**common, "level": "outpatient"},
    )
    Enrollment.objects.filter(pk=cancelled.pk).update(status="cancelled", cancelled_at=LATE)
    # and one written by the service, with its history
    with at(NOW):
        served = services.enrollment_create(
            actor=admissions, patient=ben, program=other, start_date=day(10)
        )
    written = history(served)

    with connection.cursor() as cursor:
        cursor.execute(backfill.BACKFILL)

    assert history(admitted) == [
        ("", "admitted", TODAY, NOW, admissions, ""),
        ("admitted", "discharged", day(1), NOW + HOUR, clinician, "stable"),
    ]
    assert history(moved_in) == [("", "admitted", day(1), NOW + HOUR, clinician, "stable")]
    assert history(offered) == [
        ("", "waitlisted", TODAY, LATE, admissions, ""),
        ("waitlisted", "admitted", day(5), LATE + 2 * HOUR, None, ""),
    ]
    assert history(cancelled) == [
        ("", "waitlisted", TODAY, NOW, admissions, ""),
        ("waitlisted", "cancelled", TODAY, LATE, None, ""),
    ]
    assert history(served) == written
