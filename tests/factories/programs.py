"""Programs per level of care, and enrollments brought to their state by the enrollment
services (so a factory never builds a state the product could not reach)."""

import datetime

import factory
from django.utils import timezone

from patients.instruments import INSTRUMENTS, score
from programs.models import (
    DAY_LEVELS,
    LEVEL_DEFAULTS,
    Authorization,
    AuthorizationStatus,
    Coverage,
    Disclosure,
    Enrollment,
    EnrollmentStatus,
    Inquiry,
    InquiryStatus,
    Level,
    MeasureResponse,
    MeasureSource,
    Payer,
    PayerKind,
    Program,
    ReferralSource,
)
from programs.services import authorizations, disclosures, enrollments, inquiries
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


class PayerFactory(factory.django.DjangoModelFactory):
    """A commercial payer of the clinic, made by ``payer_create``."""

    class Meta:
        model = Payer

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Harbor Health Plan {n}")
    kind = PayerKind.COMMERCIAL

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        actor = actor or staff_user(role="admissions", clinics=[fields["clinic"]])
        return authorizations.payer_create(actor=actor, **fields)


class CoverageFactory(factory.django.DjangoModelFactory):
    """A patient's primary coverage by a payer of their clinic, open-ended from a year ago,
    made by ``coverage_create``."""

    class Meta:
        model = Coverage

    patient = factory.SubFactory(PatientFactory)
    payer = factory.SubFactory(PayerFactory, clinic=factory.SelfAttribute("..patient.clinic"))
    member_id = factory.Sequence(lambda n: f"M{n:08d}")
    start_date = factory.LazyAttribute(
        lambda c: timezone.localdate(timezone=c.patient.clinic.zone) - datetime.timedelta(days=365)
    )

    @classmethod
    def _create(cls, model_class, *, actor=None, **fields):
        actor = actor or staff_user(role="admissions", clinics=[fields["patient"].clinic])
        return authorizations.coverage_create(actor=actor, **fields)


class AuthorizationFactory(factory.django.DjangoModelFactory):
    """An authorization of the enrollment's level for 14 units from its start, requested by
    ``authorization_request`` on a coverage of the patient (a new one unless given); the
    ``approved`` trait has the payer approve all of it (``authorization_decide``)."""

    class Meta:
        model = Authorization

    enrollment = factory.SubFactory(EnrollmentFactory)
    coverage = factory.SubFactory(
        CoverageFactory, patient=factory.SelfAttribute("..enrollment.patient")
    )
    authorized_level = factory.SelfAttribute("enrollment.level")
    units_requested = 14
    start_date = factory.SelfAttribute("enrollment.start_date")
    end_date = factory.LazyAttribute(
        lambda a: (
            a.start_date
            + datetime.timedelta(
                days=a.units_requested - 1 if a.authorized_level in DAY_LEVELS else 41
            )
        )
    )
    status = AuthorizationStatus.REQUESTED

    class Params:
        approved = factory.Trait(status=AuthorizationStatus.APPROVED)

    @classmethod
    def _create(cls, model_class, *, status, actor=None, **fields):
        actor = actor or staff_user(
            role="admissions", clinics=[fields["enrollment"].program.clinic]
        )
        authorization = authorizations.authorization_request(actor=actor, **fields)
        if status != AuthorizationStatus.REQUESTED:
            authorization = authorizations.authorization_decide(
                actor=actor, authorization=authorization, decision=status
            )
        return authorization


def referral_source(clinic, kind: str = "self") -> ReferralSource:
    """The clinic's referral source of ``kind`` (every clinic starts with one of each kind)."""
    return ReferralSource.objects.filter(clinic=clinic, kind=kind).order_by("id").first()


# The screening answers of the factories: a mild disorder that points to outpatient care.
MILD_SCREENING = {
    "criteria_count": 2,
    "dimensions": {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 1, "d6": 1},
}


class InquiryFactory(factory.django.DjangoModelFactory):
    """An inquiry taken by ``inquiry_create`` (``actor``: an admissions member of its clinic
    unless given), from the clinic's ``self`` referral source, about a person with a name of
    their own and no birth date or phone (so no duplicate check trips). ``status`` brings it
    there through the services: ``screening`` (screened with ``MILD_SCREENING``), ``verifying``
    (then verified eligible for outpatient care by a new payer of the clinic)."""

    class Meta:
        model = Inquiry

    clinic = factory.SubFactory(ClinicFactory)
    referral_source = factory.LazyAttribute(lambda i: referral_source(i.clinic))
    first_name = factory.Sequence(lambda n: f"Robin{n}")
    last_name = "Caller"
    status = InquiryStatus.NEW

    @classmethod
    def _create(cls, model_class, *, status, actor=None, **fields):
        if status not in (InquiryStatus.NEW, InquiryStatus.SCREENING, InquiryStatus.VERIFYING):
            raise ValueError(f"InquiryFactory reaches new, screening or verifying, not {status}")
        actor = actor or staff_user(role="admissions", clinics=[fields["clinic"]])
        inquiry = inquiries.inquiry_create(actor=actor, **fields)
        if status in (InquiryStatus.SCREENING, InquiryStatus.VERIFYING):
            inquiries.inquiry_screen(actor=actor, inquiry=inquiry, **MILD_SCREENING)
        if status == InquiryStatus.VERIFYING:
            inquiries.inquiry_verify_benefits(
                actor=actor,
                inquiry=inquiry,
                payer=PayerFactory(clinic=fields["clinic"], actor=actor),
                level=Level.OUTPATIENT,
                outcome="eligible",
            )
        inquiry.refresh_from_db()
        return inquiry


def answers_for(instrument: str, total: int = 0, **items: int) -> dict[str, int]:
    """Answers to ``instrument`` whose total is ``total`` (spread over the scored items from the
    first, each up to its highest option), with ``items`` (item key → value, as ``item_9=1``)
    set as given first. BAM has no total: ``total`` fills its items the same way."""
    definition = INSTRUMENTS[instrument]
    fixed = {key.removeprefix("item_"): value for key, value in items.items()}
    answers = {}
    left = total - sum(fixed.values())
    for item in definition.items:
        if not item.scored:
            continue
        if item.key in fixed:
            answers[item.key] = fixed[item.key]
            continue
        value = max((v for v in item.values if v <= max(left, 0)), default=min(item.values))
        answers[item.key] = value
        left -= value
    if left > 0:
        raise ValueError(f"{instrument} cannot total {total}")
    return answers


class MeasureResponseFactory(factory.django.DjangoModelFactory):
    """A completed instrument in ``enrollment`` (its patient's), scored by the instrument's own
    function as the product stores it: ``answers`` or ``total`` (``answers_for``), completed at
    ``completed_at`` (default now), recorded by the patient's care team (``actor``)."""

    class Meta:
        model = MeasureResponse

    enrollment = factory.SubFactory(EnrollmentFactory)
    patient = factory.SelfAttribute("enrollment.patient")
    instrument = "phq9"
    completed_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *, instrument, total=0, answers=None, actor=None, **fields):
        answers = answers if answers is not None else answers_for(instrument, total)
        patient = fields["patient"]
        result = score(instrument, answers, sex=patient.screening_sex)
        actor = actor or staff_user(role="clinician", clinics=[patient.clinic])
        return model_class.objects.create(
            instrument=instrument,
            answers=answers,
            total=result.total,
            band=result.band,
            subscales=result.subscales,
            safety_flags=list(result.safety),
            severe=result.severe,
            source=MeasureSource.STAFF,
            recorded_by=actor,
            **fields,
        )
