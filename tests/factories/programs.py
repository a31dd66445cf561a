"""Programs per level of care, and enrollments brought to their state by the enrollment
services (so a factory never builds a state the product could not reach)."""

import factory
from django.utils import timezone

from programs.models import (
    LEVEL_DEFAULTS,
    Disclosure,
    Enrollment,
    EnrollmentStatus,
    Level,
    Program,
)
from programs.services import disclosures, enrollments
from tests.factories.clinic import ClinicFactory, staff_user
from tests.factories.patients import PatientFactory

# Places a program of each level starts with (beds for residential, seats otherwise).
CAPACITY = {Level.RESIDENTIAL: 16, Level.PHP: 12, Level.IOP: 12, Level.OUTPATIENT: 30}


class ProgramFactory(factory.django.DjangoModelFactory):
    """A program with DOMAIN.md's defaults for its level (``LEVEL_DEFAULTS``: stay lengths and
    cadence), any of which a keyword overrides. Traits pick the level: ``residential`` (the
    default), ``php``, ``iop``, ``outpatient``."""

    class Meta:
        model = Program

    clinic = factory.SubFactory(ClinicFactory)
    level = Level.RESIDENTIAL
    name = factory.LazyAttributeSequence(lambda p, n: f"{Level(p.level).label} {n}")
    capacity = factory.LazyAttribute(lambda p: CAPACITY[p.level])
    track = ""

    class Params:
        residential = factory.Trait(level=Level.RESIDENTIAL)
        php = factory.Trait(level=Level.PHP, track="day")
        iop = factory.Trait(level=Level.IOP, track="evening")
        outpatient = factory.Trait(level=Level.OUTPATIENT)

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        return {**LEVEL_DEFAULTS[kwargs["level"]], **kwargs}


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """An enrollment made by ``enrollment_create`` from the clinic's today (``actor``: an
    admissions member unless given). Traits: ``admitted`` (the default), ``waitlisted`` (the
    program must be full: the service admits whenever a place is free) and ``discharged``
    (admitted, then discharged through ``enrollment_discharge`` on the start date)."""

    class Meta:
        model = Enrollment

    program = factory.SubFactory(ProgramFactory)
    patient = factory.SubFactory(PatientFactory, clinic=factory.SelfAttribute("..program.clinic"))
    start_date = factory.LazyAttribute(lambda e: timezone.localdate(timezone=e.program.clinic.zone))
    status = EnrollmentStatus.ADMITTED
    discharge_date = factory.SelfAttribute("start_date")
    discharge_reason = "completed"

    class Params:
        admitted = factory.Trait(status=EnrollmentStatus.ADMITTED)
        waitlisted = factory.Trait(status=EnrollmentStatus.WAITLISTED)
        discharged = factory.Trait(status=EnrollmentStatus.DISCHARGED)

    @classmethod
    def _create(
        cls, model_class, *, status, discharge_date, discharge_reason, actor=None, **fields
    ):
        actor = actor or staff_user(role="admissions", clinics=[fields["program"].clinic])
        waitlist = status == EnrollmentStatus.WAITLISTED
        enrollment = enrollments.enrollment_create(actor=actor, waitlist=waitlist, **fields)
        if waitlist and enrollment.status != EnrollmentStatus.WAITLISTED:
            raise ValueError("waitlisted: the program had a free place, so the service admitted")
        if status == EnrollmentStatus.DISCHARGED:
            enrollment = enrollments.enrollment_discharge(
                actor=actor, enrollment=enrollment, date=discharge_date, reason=discharge_reason
            )
        return enrollment


class DisclosureFactory(factory.django.DjangoModelFactory):
    """A disclosure made by ``disclosure_create`` (``actor``: a clinician of the patient's
    clinic unless given). Its defaults are what ``ConsentFactory``'s default consent covers, so
    the patient needs that consent first."""

    class Meta:
        model = Disclosure

    patient = factory.SubFactory(PatientFactory)
    recipient_name = "Harbor County Drug Court"
    recipient_address = "1 Court Plaza, Harbor City"
    purpose = "other"
    purpose_other = "Compliance reporting to the court"
    categories = factory.LazyFunction(lambda: ["attendance"])

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        actor = actor or staff_user(role="clinician", clinics=[fields["patient"].clinic])
        return disclosures.disclosure_create(actor=actor, **fields)
