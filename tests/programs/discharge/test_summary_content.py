"""A discharge writes the summary of the whole episode in its transaction; a transition's
source gets none."""

import datetime
import zoneinfo

import pytest
import time_machine

from clinic.models import AuditAction, AuditEvent
from programs import selectors
from programs.models import AftercarePlanStatus, DischargeSummary
from programs.services import enrollments
from scheduling.metrics import EMPTY, stay_figures
from scheduling.services import session_create
from tests.programs.discharge.helpers import (
    ADMITTED,
    DISCHARGED,
    FOLLOW_UP_AT,
    STEPPED_DOWN,
    attend,
    day,
    discharge,
    make_episode,
    noon,
)

pytestmark = pytest.mark.django_db


def test_the_summary_holds_the_facts_of_the_whole_episode(clinic, admissions, clinician):
    # given: residential, stepped down to IOP, attendance at both
    episode = make_episode(clinic, admissions, clinician)

    # when
    summary = discharge(episode, clinician).summary

    # then
    assert summary.patient_id == episode.iop.patient_id
    assert (summary.episode_start_date, summary.discharge_date) == (ADMITTED, DISCHARGED)
    assert summary.discharge_reason == "completed"
    assert summary.levels_of_care == [
        {
            "program": "Willow House",
            "level": "residential",
            "start_date": ADMITTED.isoformat(),
            "end_date": STEPPED_DOWN.isoformat(),
            "transition": "",
        },
        {
            "program": "Evening IOP",
            "level": "iop",
            "start_date": STEPPED_DOWN.isoformat(),
            "end_date": DISCHARGED.isoformat(),
            "transition": "step_down",
        },
    ]
    # Five sessions had ended (the one after discharge left the roster): 2 attended of 5.
    assert summary.attendance == {
        "scheduled": 5,
        "present": 1,
        "late": 1,
        "absent": 1,
        "excused": 1,
        "attendance_rate": 0.4,
    }
    assessment = episode.iop.patient.assessments.get()
    assert summary.last_assessment == assessment
    assert summary.recommendation.startswith("Recommended level of care: ")
    assert summary.aftercare_plan.enrollment == episode.house
    assert summary.follow_up_appointments == [
        {"text": "Dr. Okafor, outpatient psychiatry", "scheduled_for": FOLLOW_UP_AT.isoformat()}
    ]
    assert (summary.signed_at, summary.course_of_treatment, summary.staff_notes) == (None, "", "")


def test_the_summary_counts_attendance_as_the_step_down_board(clinic, admissions, clinician):
    # given: the episode, plus an individual appointment booked under the IOP during the stay
    # and missed
    episode = make_episode(clinic, admissions, clinician)
    patient = episode.iop.patient
    with time_machine.travel(noon(STEPPED_DOWN), tick=False):
        appointment = session_create(
            actor=clinician,
            clinic=clinic,
            program=episode.iop.program,
            title="Check-in",
            kind="individual",
            patient=patient,
            starts_at=noon(day(12)) - datetime.timedelta(hours=4),
            ends_at=noon(day(12)) - datetime.timedelta(hours=3),
        )
    attend(clinician, appointment, patient, "absent")

    # when
    summary = discharge(episode, clinician).summary

    # then: the figures are the board's for the two stays (scheduling.metrics), which count
    # the program's sessions the stays were rostered on, the ones a level's weekly minimum is
    # measured in (DOMAIN.md); an individual appointment is no program session
    # (scheduling.program_rules.is_program_session), so it is not among the 5.
    board = sum(
        stay_figures(
            [episode.house.pk, episode.iop.pk],
            zone=zoneinfo.ZoneInfo(clinic.time_zone),
            now=noon(DISCHARGED),
        ).values(),
        EMPTY,
    )
    assert (board.expected, board.attended, board.no_shows) == (5, 2, 1)
    assert summary.attendance == {
        "scheduled": 5,
        "present": 1,
        "late": 1,
        "absent": 1,
        "excused": 1,
        "attendance_rate": board.adherence,
    }


def test_a_discharge_recorded_late_counts_no_session_after_its_date(clinic, admissions, clinician):
    # given: the episode's IOP stay, discharged on day 12 but recorded on DISCHARGED (day 14),
    # so the ended, unrecorded session of day 13 is still on the stay's roster
    episode = make_episode(clinic, admissions, clinician)

    # when
    with time_machine.travel(noon(DISCHARGED), tick=False):
        enrollments.enrollment_discharge(
            actor=clinician, enrollment=episode.iop, date=day(12), reason="completed"
        )

    # then: the patient was no longer in the program on day 13, so it is not among the
    # scheduled (4, not 5)
    summary = DischargeSummary.objects.get(enrollment=episode.iop)
    assert summary.attendance == {
        "scheduled": 4,
        "present": 1,
        "late": 1,
        "absent": 1,
        "excused": 1,
        "attendance_rate": 0.5,
    }


def test_the_episodes_draft_plan_goes_into_force(clinic, admissions, clinician):
    episode = make_episode(clinic, admissions, clinician)
    assert episode.house.aftercare_plan.status == AftercarePlanStatus.DRAFT

    summary = discharge(episode, clinician).summary

    summary.aftercare_plan.refresh_from_db()
    assert summary.aftercare_plan.status == AftercarePlanStatus.ACTIVE
    assert AuditEvent.objects.filter(
        object_type="programs.aftercareplan", action=AuditAction.UPDATE
    ).exists()


def test_the_summary_is_audited(episode, clinician):
    audit = AuditEvent.objects.get(
        object_type="programs.dischargesummary", object_id=str(episode.summary.pk)
    )
    assert (audit.action, audit.actor, audit.patient_id) == (
        AuditAction.CREATE,
        clinician,
        episode.summary.patient_id,
    )


def test_a_transition_makes_no_summary(clinic, admissions, clinician):
    episode = make_episode(clinic, admissions, clinician)

    assert not DischargeSummary.objects.filter(enrollment=episode.house).exists()
    assert not DischargeSummary.objects.exists()


def test_a_failure_after_the_summary_rolls_the_discharge_back(
    clinic, admissions, clinician, monkeypatch
):
    # given: the audit of the discharge (written after the summary) fails
    episode = make_episode(clinic, admissions, clinician)
    real_audit = enrollments.audit_record

    def failing_audit(**kwargs):
        if kwargs["obj"]._meta.label_lower == "programs.enrollment":
            raise RuntimeError("audit store down")
        return real_audit(**kwargs)

    monkeypatch.setattr(enrollments, "audit_record", failing_audit)

    # when
    with time_machine.travel(noon(DISCHARGED), tick=False), pytest.raises(RuntimeError):
        enrollments.enrollment_discharge(
            actor=clinician, enrollment=episode.iop, date=DISCHARGED, reason="completed"
        )

    # then: neither the discharge nor its summary nor the plan's activation happened
    episode.iop.refresh_from_db()
    assert episode.iop.status == "admitted"
    assert not DischargeSummary.objects.exists()
    episode.house.aftercare_plan.refresh_from_db()
    assert episode.house.aftercare_plan.status == AftercarePlanStatus.DRAFT


def test_a_single_stay_without_plan_or_assessment(clinic, admissions, clinician, iop):
    from tests.factories import EnrollmentFactory

    with time_machine.travel(noon(ADMITTED), tick=False):
        stay = EnrollmentFactory(program=iop, actor=admissions, discharged=True)

    summary = DischargeSummary.objects.get(enrollment=stay)
    assert summary.levels_of_care == [
        {
            "program": "Evening IOP",
            "level": "iop",
            "start_date": ADMITTED.isoformat(),
            "end_date": ADMITTED.isoformat(),
            "transition": "",
        }
    ]
    assert summary.attendance["scheduled"] == 0
    assert summary.attendance["attendance_rate"] is None
    assert (summary.aftercare_plan, summary.follow_up_appointments) == (None, [])
    assert summary.episode_start_date == summary.discharge_date == ADMITTED


def test_episode_enrollments_walks_back_to_the_first_stay(clinic, admissions, clinician):
    episode = make_episode(clinic, admissions, clinician)

    chain = selectors.episode_enrollments(episode.iop)

    assert [e.pk for e in chain] == [episode.house.pk, episode.iop.pk]
    assert datetime.date(2026, 11, 2) == chain[0].start_date
