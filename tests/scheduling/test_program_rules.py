"""The calendar asks a program's rules through ``scheduling.program_rules`` only: programs
registers them when its app is ready, and a program's write with none registered fails loudly."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured, ValidationError

from programs.models import ProgressNoteStatus
from programs.services.schedules import ProgramCalendarRules
from scheduling import program_rules
from scheduling.api.serializers import RosterNoteSerializer
from scheduling.models import RosterEntry, Session
from scheduling.services import program_session_create
from tests.factories import PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

# Monday 2026-12-07, 14:00 UTC (09:00 in New York, the factory clinic's zone).
MONDAY = datetime.datetime(2026, 12, 7, 14, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(MONDAY - datetime.timedelta(days=7), tick=False):
        yield


def _group(program, actor, starts_at, **extra):
    return program_session_create(
        actor=actor,
        clinic=program.clinic,
        program=program,
        kind="group",
        title="Group",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=3),
        **extra,
    )


def test_programs_registers_its_rules_when_its_app_is_ready():
    assert isinstance(program_rules.program_rules(), ProgramCalendarRules)


def test_the_calendar_refuses_a_program_session_past_the_cadence_through_the_rules(
    clinic, clinician
):
    once_a_week = ProgramFactory(
        clinic=clinic,
        level="iop",
        name="iop 5",
        capacity=5,
        sessions_per_week_min=1,
        sessions_per_week_max=1,
    )
    _group(once_a_week, clinician, MONDAY)

    with pytest.raises(ValidationError) as refusal:
        _group(once_a_week, clinician, MONDAY + datetime.timedelta(days=1))

    assert refusal.value.message_dict == {
        "starts_at": [
            "iop 5 (Intensive outpatient) meets at most 1 times a week; the week of "
            "2026-12-07 (2026-W50) would have 2."
        ]
    }
    assert Session.objects.filter(program=once_a_week).count() == 1


def test_the_calendar_locks_checks_and_rosters_only_through_the_registered_rules(
    monkeypatch, clinic, admissions, clinician
):
    program = ProgramFactory(clinic=clinic, level="iop", name="iop 5", capacity=5)
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    asked = []

    class Recording:
        def lock(self, program_ids):
            asked.append("lock")
            assert list(program_ids) == [program.pk]
            return {program.pk: program}

        def check_series(self, program, *, weekdays, duration_minutes):
            asked.append("check_series")

        def check_week(self, program, *, sessions_after_change, **fields):
            asked.append("check_week")

        def stays(self, program_ids):
            asked.append("stays")
            zone = program.clinic.time_zone
            return [(program.pk, patient.pk, None, MONDAY.date(), None, zone)]

    monkeypatch.setattr(program_rules, "_rules", Recording())

    session = _group(program, clinician, MONDAY)

    assert asked == ["lock", "check_week", "stays"]
    assert list(RosterEntry.objects.filter(session=session).values_list("patient", flat=True)) == [
        patient.pk
    ]


def test_a_program_session_without_registered_rules_is_refused_loudly(
    monkeypatch, clinic, admissions, clinician
):
    program = ProgramFactory(clinic=clinic, level="iop", name="iop 5", capacity=5)
    monkeypatch.setattr(program_rules, "_rules", None)

    with pytest.raises(ImproperlyConfigured, match="none are registered"):
        _group(program, clinician, MONDAY)

    # A session that involves no program's rule needs none.
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")
    appointment = program_session_create(
        actor=clinician,
        clinic=clinic,
        program=program,
        kind="individual",
        title="Check-in",
        starts_at=MONDAY,
        ends_at=MONDAY + datetime.timedelta(hours=1),
        facilitator=clinician,
        patient=patient,
    )
    assert appointment.roster.get().patient == patient
    assert not Session.objects.filter(kind="group").exists()


def test_the_roster_s_note_statuses_are_the_programs_app_s_through_the_rules(monkeypatch):
    assert RosterNoteSerializer().fields["status"].choices == dict(ProgressNoteStatus.choices)

    monkeypatch.setattr(program_rules, "_rules", None)
    assert RosterNoteSerializer().fields["status"].choices == {}
