"""The calendar's hand-written statements give what the equivalent ORM query gives, on the same
data: the reminder claim and due count, and the roster statements (add, remove, fill)."""

import datetime
import itertools
import zoneinfo

import pytest
import time_machine
from django.db import connection, transaction

from patients.models import Patient
from programs.models import LEVEL_DEFAULTS, Program
from scheduling import services
from scheduling.models import Attendance, Reminder, RosterEntry, Session
from scheduling.reminders import draining

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
_numbers = itertools.count()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def patient_of(clinic, **fields) -> Patient:
    n = next(_numbers)
    return Patient.objects.create(
        clinic=clinic,
        mrn=f"RAW{n}",
        first_name="Pat",
        last_name=f"Raw {n}",
        date_of_birth=datetime.date(1980, 1, 1),
        **fields,
    )


def program_of(clinic, capacity=None) -> Program:
    return Program.objects.create(
        clinic=clinic,
        name=f"IOP {next(_numbers)}",
        **{**LEVEL_DEFAULTS["iop"], "level": "iop", "capacity": capacity or 20},
    )


def session_of(clinic, program, starts_at, **fields) -> Session:
    return Session.objects.create(
        clinic=clinic,
        program=program,
        title="Group",
        kind="group",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=1),
        **fields,
    )


def hours(n: float) -> datetime.datetime:
    return NOW + datetime.timedelta(hours=n)


# Reminders: the claim and the due count ----------------------------------------------------------


def test_the_claim_takes_the_due_pending_rows_the_orm_finds_oldest_first(clinic):
    # given: reminders due at different times, some not yet due, some no longer pending
    program = program_of(clinic)
    session = session_of(clinic, program, hours(30))
    statuses = ["pending"] * 6 + ["sent", "failed", "cancelled", "skipped"]
    offsets = [-50, -10, -30, 5, 60, -20, -40, -15, -25, -35]  # minutes from now
    for n, (status, offset) in enumerate(zip(statuses, offsets, strict=True)):
        Reminder.objects.create(
            session=session,
            patient=patient_of(clinic),
            offset_minutes=n,
            channel="email",
            scheduled_for=NOW + datetime.timedelta(minutes=offset),
            status=status,
            sent_at=NOW if status == "sent" else None,
        )
    due = Reminder.objects.filter(is_open=True, status="pending", scheduled_for__lte=NOW)

    # when / then: the due count, capped, is the ORM's count
    for cap in (1, 3, 10):
        with connection.cursor() as cursor:
            cursor.execute(draining._COUNT_DUE_SQL, {"now": NOW, "cap": cap})
            assert cursor.fetchone()[0] == min(due.count(), cap)

    # when / then: a claim takes the ORM's due rows in due order, a group at a time
    expected = list(due.order_by("scheduled_for", "id").values_list("id", flat=True))
    assert len(expected) == 4
    with transaction.atomic():
        first = [row.id for row in draining._claim_group(3)]
        rest = [row.id for row in draining._claim_group(3)]
    assert first + rest == expected
    assert set(Reminder.objects.filter(status="sending").values_list("id", flat=True)) == set(
        expected
    )


# Rosters ------------------------------------------------------------------------------------------


def local_date(session: Session, zone: str) -> datetime.date:
    return session.starts_at.astimezone(zoneinfo.ZoneInfo(zone)).date()


@pytest.fixture
def calendar(clinic):
    """A program's sessions around now and its local midnights: past, future, cancelled, one
    full, and one of another program."""
    program = program_of(clinic)
    # 04:30 UTC is the evening before in New York: the local date decides, not the UTC one.
    starts = [hours(-30), hours(-1), hours(2), hours(13.5), hours(37.5), hours(61.5), hours(85.5)]
    sessions = [session_of(clinic, program, at) for at in starts]
    sessions.append(session_of(clinic, program, hours(40), status="cancelled"))
    full = session_of(clinic, program, hours(50), capacity=1)
    RosterEntry.objects.create(session=full, patient=patient_of(clinic))
    sessions.append(full)
    session_of(clinic, program_of(clinic), hours(20))
    return program, sessions


def test_adding_a_stay_rosters_the_sessions_the_orm_selects(clinic, calendar):
    # given
    program, _sessions = calendar
    patient = patient_of(clinic)
    zone = clinic.time_zone
    start, end = datetime.date(2026, 12, 2), datetime.date(2026, 12, 4)

    # when
    added = services.roster_add_for_stay(
        program_id=program.pk,
        patient_id=patient.pk,
        enrollment_id=7,
        start_date=start,
        end_date=end,
        zone=zone,
    )

    # then: the program's future, scheduled sessions of those local dates with a free place
    candidates = Session.objects.filter(program=program, status="scheduled", starts_at__gt=NOW)
    expected = {
        session.pk
        for session in candidates
        if start <= local_date(session, zone) < end
        and (session.capacity is None or session.capacity > session.roster.count())
    }
    rostered = set(RosterEntry.objects.filter(patient=patient).values_list("session_id", flat=True))
    assert expected
    assert rostered == expected
    assert added == len(expected)
    assert set(
        RosterEntry.objects.filter(patient=patient).values_list("enrollment_id", flat=True)
    ) == {7}


def test_removing_a_stay_takes_off_the_entries_the_orm_selects(clinic, clinician, calendar):
    # given: the patient on every session of the program, attendance recorded on one ahead
    program, sessions = calendar
    patient = patient_of(clinic)
    entries = RosterEntry.objects.bulk_create(
        RosterEntry(session=session, patient=patient) for session in sessions
    )
    attended = next(e for e in entries if e.session.starts_at > NOW)
    Attendance.objects.create(
        session=attended.session,
        patient=patient,
        roster_entry=attended,
        status="excused",
        recorded_by=clinician,
    )
    zone, since = clinic.time_zone, datetime.date(2026, 12, 2)
    doomed = {
        entry.pk
        for entry in RosterEntry.objects.filter(
            patient=patient,
            session__program=program,
            session__starts_at__gt=NOW,
            attendance__isnull=True,
        ).select_related("session")
        if local_date(entry.session, zone) >= since
    }

    # when
    removed = services.roster_remove_from(
        program_id=program.pk, patient_id=patient.pk, from_date=since, zone=zone
    )

    # then
    assert doomed
    assert removed == len(doomed)
    left = set(RosterEntry.objects.filter(patient=patient).values_list("id", flat=True))
    assert left == {entry.pk for entry in entries} - doomed


def test_filling_new_sessions_rosters_the_stays_the_orm_selects(clinic, calendar):
    # given: three stays, one ended, one open-ended, one starting later
    program, sessions = calendar
    zone = clinic.time_zone
    stays = [
        (program.pk, patient_of(clinic).pk, 11, datetime.date(2026, 11, 1), None, zone),
        (
            program.pk,
            patient_of(clinic).pk,
            12,
            datetime.date(2026, 11, 1),
            datetime.date(2026, 12, 3),
            zone,
        ),
        (program.pk, patient_of(clinic).pk, 13, datetime.date(2026, 12, 3), None, zone),
    ]
    open_sessions = [s for s in sessions if s.capacity is None]

    # when
    added = services.roster_fill_program_sessions(
        session_ids=[s.pk for s in open_sessions], stays=stays
    )

    # then: each session has the stays whose dates hold its local date
    expected = {
        (session.pk, patient_id)
        for session in open_sessions
        for _program, patient_id, _enrollment, start, end, _zone in stays
        if start <= local_date(session, zone) and (end is None or local_date(session, zone) < end)
    }
    rostered = set(
        RosterEntry.objects.filter(patient_id__in=[stay[1] for stay in stays]).values_list(
            "session_id", "patient_id"
        )
    )
    assert len(expected) > len(open_sessions)  # a session may take several stays, or none
    assert rostered == expected
    assert added == len(expected)
