"""One program lock for admissions, discharges and the program's calendar (issue 18, item 8a;
programs/locks.py): a session made while a patient is admitted or discharged gets the roster
that the patient's stay gives it, never the state from before."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.services import enrollments
from scheduling import services as calendar
from scheduling.models import RosterEntry, Session
from tests.concurrency import InThread, held_transaction, someone_waits_for_a_lock
from tests.factories import PatientFactory, ProgramFactory
from tests.scheduling.sessions_api.helpers import NOW, NY, TODAY

START = datetime.datetime(2026, 12, 8, 9, tzinfo=NY)


def create_session(clinician, program, start=START) -> Session:
    return calendar.program_session_create(
        actor=clinician,
        clinic=program.clinic,
        program=program,
        kind="group",
        title="Relapse prevention",
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=3),
    )


def rostered(session) -> set[int]:
    return set(RosterEntry.objects.filter(session=session).values_list("patient_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_session_created_during_an_admission_waits_for_it_and_rosters_the_patient(
    clinic, admissions, clinician
):
    # given
    program = ProgramFactory(clinic=clinic, level="iop", name="Evening IOP", capacity=10)
    patient = PatientFactory(clinic=clinic, actor=admissions, last_name="Rivera")

    with time_machine.travel(NOW, tick=False):
        # when: the admission holds its transaction open while the session is created
        with held_transaction(
            lambda: enrollments.enrollment_create(
                actor=admissions, patient=patient, program=program, start_date=TODAY
            )
        ):
            creating = InThread(lambda: create_session(clinician, program)).start()
            waited = someone_waits_for_a_lock()
        session = creating.join()

    # then
    assert waited, "the session's creation did not wait for the admission's program lock"
    assert rostered(session) == {patient.pk}


@pytest.mark.django_db(transaction=True)
def test_a_session_created_during_a_discharge_leaves_the_patient_off(clinic, admissions, clinician):
    # given
    program = ProgramFactory(clinic=clinic, level="iop", name="Evening IOP", capacity=10)
    patient = PatientFactory(clinic=clinic, actor=admissions, last_name="Rivera")
    with time_machine.travel(NOW, tick=False):
        stay = enrollments.enrollment_create(
            actor=admissions, patient=patient, program=program, start_date=TODAY
        )

        # when
        with held_transaction(
            lambda: enrollments.enrollment_discharge(
                actor=admissions, enrollment=stay, date=TODAY, reason="completed"
            )
        ):
            creating = InThread(lambda: create_session(clinician, program)).start()
            waited = someone_waits_for_a_lock()
        session = creating.join()

    # then: no roster entry, so no reminder for a discharged patient
    assert waited
    assert rostered(session) == set()


def program_lock_then_stays(queries) -> tuple[int | None, int | None]:
    """The positions of the first lock of programs_program and the first read of the stays."""
    lock = stays = None
    for position, query in enumerate(q["sql"] for q in queries):
        if lock is None and 'FROM "programs_program"' in query and "FOR UPDATE" in query:
            lock = position
        if stays is None and 'FROM "programs_enrollment"' in query:
            stays = position
    return lock, stays


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
@pytest.mark.parametrize("write", ["session", "series", "nightly", "series_edit"])
def test_every_calendar_write_locks_the_program_before_reading_its_stays(
    write, clinic, admissions, clinician
):
    program = ProgramFactory(clinic=clinic, level="iop", name="Evening IOP", capacity=10)
    enrollments.enrollment_create(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions, last_name="Rivera"),
        program=program,
        start_date=TODAY,
    )
    series_fields = {
        "title": "Evening IOP",
        "weekdays": [1, 3, 5],
        "local_start_time": datetime.time(18),
        "duration_minutes": 180,
        "starts_on": datetime.date(2026, 12, 7),
    }
    if write in ("nightly", "series_edit"):
        series, _ = calendar.program_series_create(
            actor=clinician, program=program, until=datetime.date(2026, 12, 13), **series_fields
        )
    actions = {
        "session": lambda: create_session(clinician, program),
        "series": lambda: calendar.program_series_create(
            actor=clinician, program=program, **series_fields
        ),
        "nightly": lambda: calendar.materialize_all_series(),
        "series_edit": lambda: calendar.program_series_edit(
            actor=clinician,
            session=Session.objects.filter(series=series).first(),
            scope="all",
            weekdays=[1, 2, 3],
        ),
    }

    with CaptureQueriesContext(connection) as captured:
        actions[write]()

    lock, stays = program_lock_then_stays(captured.captured_queries)
    assert lock is not None
    assert stays is not None
    assert lock < stays
