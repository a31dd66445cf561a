"""What the modules of aftercare/ share: constants and helpers."""

from programs.models import Level
from programs.services import aftercare as services
from tests.factories import EnrollmentFactory, PatientFactory, ProgramFactory

BASE = "/api/v1/aftercare-plans/"


def make_enrollment(clinic, admissions, clinician=None, program=None, **patient_fields):
    return EnrollmentFactory(
        actor=admissions,
        patient=PatientFactory(clinic=clinic, actor=admissions, **patient_fields),
        program=program or ProgramFactory(clinic=clinic, level=Level.IOP, track="day", capacity=10),
        primary_clinician=clinician,
    )


def make_plan(clinic, admissions, clinician, *, primary_clinician=True, **patient_fields):
    enrollment = make_enrollment(
        clinic, admissions, clinician if primary_clinician else None, **patient_fields
    )
    return services.aftercare_plan_create(actor=clinician, enrollment=enrollment)


def check_in(plan, actor, craving=2, mood=4, used_substance=False, note=""):
    return services.checkin_record(
        actor=actor,
        plan=plan,
        craving=craving,
        mood=mood,
        used_substance=used_substance,
        note=note,
    )
