"""Reminder planning is one INSERT … SELECT (``reminders.planning._PLAN_SQL``);
``reminders.planning._plan`` is the rules in Python. Both must give the same rows for every case
the rules tell apart: offsets ahead, past (only the nearest sent at once), SMS and push in quiet
hours (moved to their end, or skipped when that is too late), e-mail never held back, quiet
hours across midnight or not, an empty offset list."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import models

from scheduling import reminders
from scheduling.models import Reminder, RosterEntry, Session
from tests.factories import PatientFactory, ProgramFactory, group_session

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
NOW = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=NY)


STARTS = [
    NOW + datetime.timedelta(minutes=30),  # every offset past: only the nearest, at once
    NOW + datetime.timedelta(hours=5),  # 2 h ahead pending, 24 h past and not the nearest
    datetime.datetime(2026, 12, 2, 7, 0, tzinfo=NY),  # 2 h before: 05:00, in quiet hours
    datetime.datetime(2026, 12, 2, 8, 30, tzinfo=NY),  # 06:30 quiet → 08:00, before start
    datetime.datetime(2026, 12, 2, 22, 30, tzinfo=NY),  # 20:30 not quiet, 24 h before quiet
    datetime.datetime(2026, 12, 5, 23, 59, tzinfo=NY),
    datetime.datetime(2026, 12, 6, 0, 30, tzinfo=NY),
]


@pytest.mark.parametrize(
    ("quiet", "offsets"),
    [
        ((datetime.time(21), datetime.time(8)), [1440, 120]),
        ((datetime.time(1), datetime.time(6)), [2880, 1440, 120, 30]),
        ((datetime.time(8), datetime.time(8)), [120, 120, 60]),
        ((datetime.time(21), datetime.time(8)), []),
    ],
)
def test_sql_planning_matches_the_rules_in_python(clinic, clinician, quiet, offsets):
    clinic.quiet_hours_start, clinic.quiet_hours_end = quiet
    clinic.save()
    program = ProgramFactory(
        clinic=clinic,
        name="Evening group",
        level="iop",
        track="evening",
        capacity=10,
        reminder_offsets_minutes=offsets,
    )
    patient = PatientFactory(
        clinic=clinic,
        first_name="Rae",
        reminder_channels=["email", "sms", "push"],
        last_name="Lind",
        date_of_birth=datetime.date(1990, 2, 2),
        phone="+12025550188",
        reachable=True,
    )
    entries = []
    for n, starts in enumerate(STARTS):
        for with_program in (True, False):
            session = Session.objects.create(
                clinic=clinic,
                program=program if with_program else None,
                kind="group",
                title=f"Session {n}",
                starts_at=starts,
                ends_at=starts + datetime.timedelta(hours=1),
            )
            entries.append(RosterEntry.objects.create(session=session, patient=patient))

    with time_machine.travel(NOW, tick=False):
        created = reminders.plan_for_entries([e.pk for e in entries])
        expected = set()
        for entry in entries:
            session = Session.objects.select_related("clinic").get(pk=entry.session_id)
            session_offsets = offsets if session.program_id else reminders.DEFAULT_OFFSETS
            for channel in patient.reminder_channels:
                for offset, when, status in reminders.planning._plan(
                    session, channel, session_offsets, NOW
                ):
                    expected.add((entry.pk, channel, offset, when, status))

    actual = set(
        Reminder.objects.values_list(
            "roster_entry_id", "channel", "offset_minutes", "scheduled_for", "status"
        )
    )
    assert actual == expected
    assert created == len(expected)
    assert {status for *_, status in expected} >= {"pending", "skipped"}
    # Planned once: a second call creates nothing.
    with time_machine.travel(NOW, tick=False):
        assert reminders.plan_for_entries([e.pk for e in entries]) == 0


def test_planning_skips_planned_entries_and_never_reads_the_table_it_writes(clinic):
    """Entries with reminders get none, the others theirs, in one call. The INSERT itself does
    not read the reminder table: inside it, the "has no reminder yet" test could be planned as
    a sequential scan repeated per entry over the pages the INSERT has just written (quadratic;
    it happened with the table's statistics saying "empty"), so that test is a statement of its
    own before it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    patient = PatientFactory(
        clinic=clinic,
        first_name="Ida",
        reminder_channels=["email"],
        last_name="Lind",
        date_of_birth=datetime.date(1990, 2, 2),
        phone="+12025550188",
        reachable=True,
    )
    entries = [
        RosterEntry.objects.create(session=session, patient=patient)
        for session in _group_sessions(clinic, 3)
    ]
    with time_machine.travel(NOW, tick=False):
        assert reminders.plan_for_entries([entries[0].pk]) == len(reminders.DEFAULT_OFFSETS)
        with CaptureQueriesContext(connection) as captured:
            created = reminders.plan_for_entries([e.pk for e in entries])
    assert created == 2 * len(reminders.DEFAULT_OFFSETS)
    counts = dict(
        Reminder.objects.values("roster_entry_id")
        .annotate(n=models.Count("id"))
        .values_list("roster_entry_id", "n")
    )
    assert counts == {e.pk: len(reminders.DEFAULT_OFFSETS) for e in entries}

    [insert] = [q["sql"] for q in captured if q["sql"].lstrip().startswith("INSERT")]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + insert.replace("%", "%%"))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Insert on scheduling_reminder" in plan
    assert " on scheduling_reminder" not in plan.replace("Insert on scheduling_reminder", "")


def _group_sessions(clinic, count):
    return [
        group_session(clinic, NOW + datetime.timedelta(days=n + 2), title=f"Group {n}")
        for n in range(count)
    ]


def test_a_patient_back_on_a_roster_gets_only_the_reminders_not_sent_or_kept(clinic):
    """Taken off a roster and put back: the rows of the first entry stay (history, and the
    unique key), so the new entry's plan skips what collides with them and adds the rest; a
    first-time entry in the same call is planned in full."""
    patient = PatientFactory(
        clinic=clinic,
        first_name="Ola",
        reminder_channels=["email"],
        last_name="Lind",
        date_of_birth=datetime.date(1990, 2, 2),
        phone="+12025550188",
        reachable=True,
    )
    back, first_time = _group_sessions(clinic, 2)
    with time_machine.travel(NOW, tick=False):
        old = RosterEntry.objects.create(session=back, patient=patient)
        assert reminders.plan_for_entries([old.pk]) == len(reminders.DEFAULT_OFFSETS)
        Reminder.objects.filter(roster_entry=old).update(status="cancelled")
        old.delete()  # the rows stay, their roster entry unset
        patient.reminder_channels = ["email", "sms"]
        patient.save()
        again = RosterEntry.objects.create(session=back, patient=patient)
        new = RosterEntry.objects.create(session=first_time, patient=patient)
        created = reminders.plan_for_entries([again.pk, new.pk])

    offsets = len(reminders.DEFAULT_OFFSETS)
    # Back on the roster: the e-mail rows exist (cancelled), only SMS is new; the new session:
    # both channels.
    assert created == offsets + 2 * offsets
    assert Reminder.objects.filter(roster_entry=again, channel="sms").count() == offsets
    assert not Reminder.objects.filter(roster_entry=again, channel="email").exists()
    assert Reminder.objects.filter(roster_entry=new).count() == 2 * offsets


def test_a_concurrent_plan_of_the_same_rows_sends_planning_the_careful_way(clinic, monkeypatch):
    """Between the check and the fast INSERT, another call planned some of the rows: the fast
    INSERT is undone (nothing half-written) and every entry goes through ON CONFLICT."""
    patient = PatientFactory(
        clinic=clinic,
        first_name="Lea",
        reminder_channels=["email"],
        last_name="Lind",
        date_of_birth=datetime.date(1990, 2, 2),
        phone="+12025550188",
        reachable=True,
    )
    sessions = _group_sessions(clinic, 3)
    with time_machine.travel(NOW, tick=False):
        entries = [RosterEntry.objects.create(session=s, patient=patient) for s in sessions]
        assert reminders.plan_for_entries([entries[1].pk]) == len(reminders.DEFAULT_OFFSETS)
        # As if the check had run before that plan: every entry looks clear.
        monkeypatch.setattr(
            reminders.planning,
            "_UNPLANNED_SQL",
            "SELECT array_agg(id), NULL::bigint[] FROM unnest(%s::bigint[]) AS wanted(id)",
        )
        created = reminders.plan_for_entries([e.pk for e in entries])

    assert created == 2 * len(reminders.DEFAULT_OFFSETS)
    assert Reminder.objects.count() == 3 * len(reminders.DEFAULT_OFFSETS)
    assert set(Reminder.objects.values_list("roster_entry_id", flat=True)) == {
        e.pk for e in entries
    }
