"""The export reads a constant number of queries whatever the length of the patient's history."""

import datetime

import pytest
import time_machine

from patients import services as patient_services
from patients.models import Patient
from programs.fhir import disclosure_bundle
from programs.services import aftercare
from scheduling import services as scheduling_services
from tests.factories import MeasureResponseFactory, staff_user
from tests.programs.fhir.conftest import day
from tests.programs.fhir.helpers import ALL_CATEGORIES, at, disclosure, resources

pytestmark = pytest.mark.django_db

# The clinic, the enrollments with their programs and their status changes, the assessments,
# the roster entries with their sessions and attendance, the plans with their goals and items,
# the measures.
QUERIES = 9


def export(history, django_assert_num_queries):
    sent = disclosure(
        Patient.objects.get(pk=history["patient"].pk),
        history["consent"],
        categories=ALL_CATEGORIES,
        disclosed_at=history["disclosed_at"],
        window=(day(11), day(30)),
    )
    with django_assert_num_queries(QUERIES):
        return disclosure_bundle(sent)


def test_a_longer_history_costs_no_more_queries(history, clinic, django_assert_num_queries):
    before = export(history, django_assert_num_queries)
    # given twice the assessments, goals, items and attended sessions
    clinician = staff_user(role="clinician", clinics=[clinic])
    patient = history["patient"]
    iop = history["programs"][2]
    zone = clinic.zone
    with time_machine.travel(at(day(15), 11, zone), tick=False):
        patient_services.assessment_create(
            actor=clinician,
            patient=patient,
            dimensions={"d1": 1, "d2": 1, "d3": 1, "d4": 1, "d5": 2, "d6": 2},
            severity="moderate",
        )
        aftercare.aftercare_goal_add(actor=clinician, plan=history["plan"], description="Walk")
        aftercare.aftercare_item_add(
            actor=clinician, plan=history["plan"], kind="trigger", text="Payday"
        )
        sessions = [
            scheduling_services.program_session_create(
                actor=clinician,
                clinic=clinic,
                program=iop,
                kind="group",
                title=f"More {n}",
                starts_at=at(day(n), 18, zone),
                ends_at=at(day(n), 21, zone),
            )
            for n in (21, 22, 23)
        ]
    for n in (16, 17):
        MeasureResponseFactory(
            enrollment=patient.enrollments.get(program=iop),
            instrument="gad7",
            total=n - 10,
            completed_at=at(day(n), 10, zone),
        )
    with time_machine.travel(at(day(24), 10, zone), tick=False):
        for session in sessions:
            scheduling_services.attendance_record(
                actor=clinician, session=session, patient=patient, status="late"
            )
    # when / then
    after = export(history, django_assert_num_queries)
    for kind in ("Observation", "Goal", "Appointment", "QuestionnaireResponse"):
        assert len(resources(after, kind)) > len(resources(before, kind)), kind
    assert datetime.date(2026, 11, 23).isoformat() in str(after)
