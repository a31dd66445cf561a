"""A discharge from high-intensity care makes its follow-up tasks once, in its transaction: one
per day of the program's ``follow_up_days``, due that many days after the discharge, for the
primary clinician or the alumni coordinators. A transition and a discharge from IOP or
outpatient care make none."""

import datetime

import pytest

from clinic.models import AuditEvent
from programs.models import FollowUpTask
from programs.services import enrollments, follow_ups
from tests.factories import ProgramFactory
from tests.programs.follow_ups.conftest import DISCHARGED_ON, at_noon

pytestmark = pytest.mark.django_db


def days(n: int) -> datetime.date:
    return DISCHARGED_ON + datetime.timedelta(days=n)


def test_a_residential_discharge_makes_three_tasks_for_the_primary_clinician(discharge, clinician):
    # when
    stay = discharge()

    # then
    tasks = list(FollowUpTask.objects.filter(enrollment=stay))
    assert [(t.days_after_discharge, t.due_date) for t in tasks] == [
        (2, days(2)),
        (7, days(7)),
        (30, days(30)),
    ]
    assert {(t.assignee, t.assignee_role, t.patient_id) for t in tasks} == {
        (clinician, "", stay.patient_id)
    }
    assert all(t.is_open for t in tasks)
    created = AuditEvent.objects.filter(object_type="programs.followuptask", action="create")
    assert sorted(created.values_list("object_id", flat=True)) == sorted(str(t.pk) for t in tasks)
    assert set(created.values_list("actor", "patient_id")) == {(clinician.pk, stay.patient_id)}


def test_a_second_call_makes_no_second_task(discharge):
    stay = discharge()

    with at_noon(DISCHARGED_ON):
        made = follow_ups.follow_up_tasks_create(stay, now=datetime.datetime.now(datetime.UTC))

    assert made == []
    assert FollowUpTask.objects.filter(enrollment=stay).count() == 3


@pytest.mark.parametrize(
    ("level", "services"), [("php", []), ("iop", ["detox"]), ("outpatient", ["detox"])]
)
def test_php_and_withdrawal_management_are_followed_up(clinic, discharge, level, services):
    program = ProgramFactory(clinic=clinic, level=level, services=services, capacity=5)

    stay = discharge(program)

    assert FollowUpTask.objects.filter(enrollment=stay).count() == 3


@pytest.mark.parametrize("level", ["iop", "outpatient"])
def test_iop_and_outpatient_discharges_make_none(clinic, discharge, level):
    program = ProgramFactory(clinic=clinic, level=level, capacity=5)

    discharge(program)

    assert not FollowUpTask.objects.exists()


def test_a_transition_makes_none(clinic, discharge, house, admissions, clinician):
    # given: a residential stay stepped down to an IOP inside the clinic
    iop = ProgramFactory(clinic=clinic, level="iop", capacity=5)
    patient = discharge().patient
    with at_noon(DISCHARGED_ON + datetime.timedelta(days=40)):
        stay = enrollments.enrollment_create(
            actor=admissions,
            patient=patient,
            program=house,
            start_date=DISCHARGED_ON + datetime.timedelta(days=30),
            primary_clinician=clinician,
        )
        FollowUpTask.objects.all().delete()

        # when
        enrollments.transition_create(
            actor=clinician,
            enrollment=stay,
            to_program=iop,
            date=DISCHARGED_ON + datetime.timedelta(days=40),
            kind="step_down",
            reason="stable",
        )

    # then
    assert not FollowUpTask.objects.exists()


def test_the_program_sets_the_days(clinic, discharge):
    program = ProgramFactory(clinic=clinic, level="residential", follow_up_days=[1, 14])
    quiet = ProgramFactory(clinic=clinic, level="residential", follow_up_days=[])

    stay = discharge(program)
    discharge(quiet, first_name="Ben")

    assert list(FollowUpTask.objects.values_list("enrollment", "due_date")) == [
        (stay.pk, days(1)),
        (stay.pk, days(14)),
    ]


def test_the_clinic_may_give_them_to_its_alumni_coordinators(clinic, discharge, alumni_coordinator):
    clinic.follow_up_assignment = "alumni_coordinator"
    clinic.save(update_fields=["follow_up_assignment"])

    discharge()

    assert set(FollowUpTask.objects.values_list("assignee", "assignee_role")) == {
        (None, "alumni_coordinator")
    }


def test_without_a_primary_clinician_the_alumni_coordinators_else_the_supervisors(
    clinic, discharge, alumni_coordinator
):
    # A stay without a primary clinician goes to the role that makes these calls...
    first = discharge(primary_clinician=None)
    # ... and in a clinic without alumni coordinators, to its supervisors (never to no one).
    alumni_coordinator.clinic_memberships.all().delete()
    second = discharge(primary_clinician=None, first_name="Ben")

    assert set(first.follow_up_tasks.values_list("assignee", "assignee_role")) == {
        (None, "alumni_coordinator")
    }
    assert set(second.follow_up_tasks.values_list("assignee", "assignee_role")) == {
        (None, "supervisor")
    }
