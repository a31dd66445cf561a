import datetime

import pytest
import time_machine

from patients import services as patient_services
from patients.models import Patient
from programs.services import aftercare, enrollments
from scheduling import services as scheduling_services
from tests.factories import (
    ConsentFactory,
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
    app_account,
    staff_user,
)
from tests.programs.fhir.helpers import at, complete

# A Monday; the history runs over the following three weeks in the clinic's zone.
T0 = datetime.date(2026, 11, 2)


def day(n: int) -> datetime.date:
    return T0 + datetime.timedelta(days=n)


@pytest.fixture
def history(clinic):
    """Dana's three weeks: assessed; a residential stay (T0 to T0+10) with its aftercare plan;
    waitlisted for a full PHP, then taken off it; an evening IOP from T0+10 whose sessions
    she attended, missed, was excused from, saw cancelled or has no attendance for yet."""
    clinic.name = "Harbor Recovery Center"
    clinic.save(update_fields=["name"])
    zone = clinic.zone
    admissions = staff_user(role="admissions", clinics=[clinic])
    clinician = staff_user(role="clinician", clinics=[clinic])
    residential = ProgramFactory(clinic=clinic, name="Harbor House Residential")
    php = ProgramFactory(clinic=clinic, php=True, name="Cedar Day PHP", capacity=1)
    iop = ProgramFactory(clinic=clinic, iop=True, name="Lantern Evening IOP")
    with time_machine.travel(at(T0, 10, zone), tick=False):
        dana = PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name="Dana",
            last_name="Okafor",
            email="dana@example.org",
            phone="+12025550142",
        )
        patient_services.assessment_create(
            actor=clinician,
            patient=dana,
            dimensions={"d1": 3, "d2": 1, "d3": 2, "d4": 2, "d5": 4, "d6": 3},
            severity="severe",
        )
        stay = EnrollmentFactory(program=residential, patient=dana, actor=admissions)
        EnrollmentFactory(program=php, actor=admissions)
        waiting = EnrollmentFactory(program=php, patient=dana, waitlisted=True, actor=admissions)
        consent = ConsentFactory(patient=dana, signed_on=T0, expiry_event="end_of_treatment")
    with time_machine.travel(at(day(9), 10, zone), tick=False):
        enrollments.enrollment_cancel(actor=admissions, enrollment=waiting, reason="Chose IOP")
    with time_machine.travel(at(day(10), 10, zone), tick=False):
        enrollments.enrollment_discharge(
            actor=admissions, enrollment=stay, date=day(10), reason="completed"
        )
        plan = aftercare.aftercare_plan_create(
            actor=clinician, enrollment=stay, sober_living="Maple Street sober house"
        )
        aftercare.aftercare_goal_add(
            actor=clinician, plan=plan, description="Call my sponsor every Sunday"
        )
        aftercare.aftercare_item_add(
            actor=clinician, plan=plan, kind="coping_skill", text="Box breathing at cravings"
        )
        EnrollmentFactory(program=iop, patient=dana, actor=admissions)
        sessions = {
            name: scheduling_services.program_session_create(
                actor=clinician,
                clinic=clinic,
                program=iop,
                kind="group",
                title=f"Lantern skills group {name}",
                starts_at=at(day(n), hour, zone),
                ends_at=at(day(n), hour + 3, zone),
            )
            for name, n, hour in (
                ("present", 11, 18),
                ("absent", 12, 18),
                ("unrecorded", 13, 12),
                ("excused", 13, 18),
                ("cancelled", 14, 18),
                ("outside", 20, 18),
            )
        }
    with time_machine.travel(at(day(10), 12, zone), tick=False):
        app_user = app_account(dana)
        for name, response in (("present", "confirmed"), ("excused", "declined")):
            scheduling_services.session_respond(
                actor=app_user, session=sessions[name], patient=dana, response=response
            )
    with time_machine.travel(at(day(13), 10, zone), tick=False):
        scheduling_services.session_cancel(actor=clinician, session=sessions["cancelled"])
    with time_machine.travel(at(day(15), 10, zone), tick=False):
        for name in ("present", "absent", "excused"):
            scheduling_services.attendance_record(
                actor=clinician, session=sessions[name], patient=dana, status=name
            )
    return {
        # Fresh from the database: the builder's reads are all counted.
        "patient": Patient.objects.get(pk=dana.pk),
        "consent": complete(consent),
        "sessions": sessions,
        "programs": (residential, php, iop),
        "plan": plan,
        "disclosed_at": at(day(16), 10, zone),
        "window": (day(11), day(14)),
    }
