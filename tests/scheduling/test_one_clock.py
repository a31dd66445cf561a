"""One clock: every "now" the service writes or compares is Python's ``timezone.now()``, passed
into SQL as a parameter, so frozen-time tests and production agree (STYLE.md practice 14).

The roster writers run here under a time frozen a year and more away from the real date, on both
sides: a statement that read the database's clock instead would put the patient on the wrong
sessions, or stamp rows with the real date."""

import ast
import datetime
import re
import time
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from clinic.models import AuditEvent
from clinic.services import audit_record_rows
from programs.services import enrollments
from scheduling.models import Reminder, RosterEntry, Session
from scheduling.services import program_series_create, program_session_create
from tests.factories import PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("clinic", "patients", "programs", "scheduling", "config")


def _real_now() -> datetime.datetime:
    # Under --clock-shift-days time-machine is travelling already: its escape hatch is real.
    hatch = time_machine.escape_hatch
    seconds = hatch.time.time() if hatch.is_travelling() else time.time()
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


@pytest.fixture(params=[400, -400], ids=["a-year-ahead", "a-year-back"])
def frozen(request):
    """A Monday noon UTC about a year from the real date (either side), frozen."""
    moment = _real_now() + datetime.timedelta(days=request.param)
    monday = moment.date() - datetime.timedelta(days=moment.weekday())
    at = datetime.datetime.combine(monday, datetime.time(12), tzinfo=datetime.UTC)
    with time_machine.travel(at, tick=False):
        yield at


def test_the_roster_writers_follow_the_service_clock(frozen, clinic, admissions, clinician):
    program = ProgramFactory(
        clinic=clinic, name="Evening IOP", level="iop", track="evening", capacity=10
    )
    today = frozen.date()
    # given: a series three weeks long from last week, and a patient admitted today
    _series, sessions = program_series_create(
        actor=clinician,
        program=program,
        title="Evening group",
        weekdays=[1, 3, 4],
        local_start_time=datetime.time(18),
        duration_minutes=180,
        starts_on=today - datetime.timedelta(days=7),
        ends_on=today + datetime.timedelta(days=13),
    )
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ana",
        last_name="Roe",
        date_of_birth=datetime.date(1980, 1, 1),
        email="ana@example.org",
        reminder_channels=["email"],
    )

    # when: admitted today
    stay = enrollments.enrollment_create(
        actor=admissions, patient=patient, program=program, start_date=today
    )

    # then: on the sessions from now on (the frozen now, not the database's), stamped with it
    future = {s.pk for s in sessions if s.starts_at > frozen}
    assert len(future) == 6
    entries = RosterEntry.objects.filter(patient=patient)
    assert {e.session_id for e in entries} == future
    assert {e.created_at for e in entries} == {frozen}
    planned = Reminder.objects.filter(patient=patient)
    assert planned.count() == 12  # 6 sessions × the default offsets (24 h, 2 h) × e-mail
    assert {r.created_at for r in planned} == {frozen}
    assert all(r.scheduled_for >= frozen for r in planned)

    # when: a one-off program session is added next week
    extra = program_session_create(
        actor=clinician,
        program=program,
        clinic=clinic,
        title="Family evening",
        kind="family",
        starts_at=frozen + datetime.timedelta(days=8, hours=6),
        ends_at=frozen + datetime.timedelta(days=8, hours=9),
    )
    # then: the patient is on it, stamped with the frozen now
    assert RosterEntry.objects.get(session=extra, patient=patient).created_at == frozen

    # when: discharged on the coming Friday
    friday = today + datetime.timedelta(days=4)
    enrollments.enrollment_discharge(
        actor=clinician, enrollment=stay, date=friday, reason="completed"
    )

    # then: off every session from Friday on, kept on the ones before
    local = clinic.zone
    kept = {
        s.pk
        for s in Session.objects.filter(pk__in=[*future, extra.pk])
        if s.starts_at.astimezone(local).date() < friday
    }
    remaining = RosterEntry.objects.filter(patient=patient).values_list("session_id", flat=True)
    assert set(remaining) == kept


def test_a_list_pages_audit_rows_carry_the_service_clock(frozen, clinic, admissions):
    audit_record_rows(
        actor=admissions, action="list", object_type="patients.patient", rows=[(1, clinic.pk, 1)]
    )
    assert AuditEvent.objects.get(object_type="patients.patient").occurred_at == frozen


def test_every_timestamp_the_database_defaults_takes_the_service_clock_first():
    """A ``db_default=Now()`` alone would stamp ORM rows with the database's clock; with
    ``default=timezone.now`` the ORM writes Python's (the database default is left for rows
    written outside the service, such as the benchmarks' generated data)."""
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.DateTimeField)
        and isinstance(field.db_default, Now)
        and field.default is not timezone.now
    ]
    assert offenders == []


DATABASE_CLOCK = re.compile(
    r"\b(now|statement_timestamp|transaction_timestamp|clock_timestamp)\s*\(\s*\)"
    r"|\b(current_date|current_time|current_timestamp|localtimestamp)\b",
    re.IGNORECASE,
)
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")


def test_no_statement_of_the_service_reads_the_database_clock():
    offenders = []
    for app in PRODUCT:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and SQL.search(node.value)
                    and DATABASE_CLOCK.search(node.value)
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
