"""The admissions pipeline's last steps (issue 28): scheduling an admission holds a place (a bed
for a program with beds) for the date, closing an inquiry as not admitted, the beat's lapse of
holds the patient never came for, and the conversion of a scheduled inquiry into a patient and
an admission in one transaction.

A live hold (``AdmissionHold`` held) takes a place from its admission date on, as an admission
would: ``selectors.program_places`` counts it, and every hold is made under the program's lock
(``programs.locks.program_lock``, the lock ``enrollment_create`` takes), so of concurrent holds
and admissions the last place goes to exactly one. A freed place (a hold released, lapsed or
moved) is offered to the program's waitlist in the same transaction, as a discharge's is.

Locks are taken in one order everywhere: the inquiry (``inquiry_lock``: every writer of a hold
takes it first, so a hold changes only under its inquiry's lock), then the program(s), then the
bed; the beat takes the inquiry with ``SKIP LOCKED``, so two beats (or a beat and a desk) never
work on one hold at once.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from clinic.errors import Conflict, constraint_name
from clinic.models import AuditAction, Bed
from clinic.services import audit_record
from clinic.versions import refresh_version
from patients.models import Patient
from patients.services import patient_create
from programs import selectors
from programs.locks import inquiry_lock, programs_lock
from programs.models import (
    AdmissionHold,
    BedAssignment,
    BenefitsOutcome,
    Coverage,
    CoveragePriority,
    Enrollment,
    HoldStatus,
    Inquiry,
    InquiryStatus,
    NotAdmittedReason,
    Program,
)
from programs.services.authorizations import coverage_create
from programs.services.enrollments import (
    _require_place,
    bed_assign,
    enrollment_create,
    waitlist_offer_places,
)
from programs.services.inquiries import (
    INQUIRY_WRITE_ROLES,
    inquiry_require_open,
    inquiry_status_move,
)

__all__ = [
    "INQUIRY_WRITE_ROLES",
    "admission_holds_lapse",
    "admission_schedule",
    "inquiry_close",
    "inquiry_convert",
]

# What the history of an inquiry says when the beat closes it.
LAPSE_REASON = "The held place lapsed: the person did not come by the last day it waited."


def _live_hold(inquiry: Inquiry) -> AdmissionHold | None:
    """The inquiry's live hold (call with the inquiry locked: every writer of a hold holds that
    lock, so the hold read here stays as read until the transaction ends)."""
    return (
        AdmissionHold.objects.select_related("program__clinic", "bed")
        .filter(inquiry=inquiry, status=HoldStatus.HELD)
        .first()
    )


def _close_hold(hold: AdmissionHold, *, status: str, actor, now: datetime.datetime, inquiry):
    hold.status, hold.closed_at = status, now
    hold.save(update_fields=["status", "closed_at", "enrollment"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=hold,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )


def _bed_free(bed: Bed, admission_date: datetime.date, *, inquiry: Inquiry) -> str:
    """Why ``bed`` cannot be held from ``admission_date`` ("" when it can): someone is in it on
    or after that date (assignments are open-ended), or another inquiry's live hold has it."""
    if BedAssignment.objects.filter(bed=bed).exclude(end_date__lte=admission_date).exists():
        return "bed_taken"
    if (
        AdmissionHold.objects.filter(bed=bed, status=HoldStatus.HELD)
        .exclude(inquiry=inquiry)
        .exists()
    ):
        return "bed_held"
    return ""


def _hold_bed(
    program: Program, bed: Bed | None, admission_date: datetime.date, *, inquiry: Inquiry
) -> Bed | None:
    """The bed to hold: ``bed`` if it is one of the program's active beds and free from the date,
    else, when none is named, the program's first free bed; None for a program without beds.
    Each bed is row-locked before it is checked, as ``bed_assign`` locks it, so an assignment
    and a hold of one bed apply one after the other."""
    beds = program.beds.filter(is_active=True).order_by("room", "label", "id")
    if bed is not None:
        if not beds.filter(pk=bed.pk).exists():
            raise ValidationError({"bed": [f"This bed is not one of {program.name}'s beds."]})
        Bed.objects.select_for_update().get(pk=bed.pk)
        why = _bed_free(bed, admission_date, inquiry=inquiry)
        if why == "bed_taken":
            raise Conflict(f"Bed {bed} is taken from {admission_date:%Y-%m-%d}.", code="bed_taken")
        if why:
            raise Conflict(f"Bed {bed} is held for another admission.", code="bed_held")
        return bed
    if not program.beds.exists():
        return None
    for candidate in beds:
        Bed.objects.select_for_update().get(pk=candidate.pk)
        if not _bed_free(candidate, admission_date, inquiry=inquiry):
            return candidate
    raise Conflict(
        f"{program.name} has no free bed from {admission_date:%Y-%m-%d}.", code="no_free_bed"
    )


# Scheduling ---------------------------------------------------------------------------------------


@transaction.atomic
def admission_schedule(
    *,
    actor,
    inquiry: Inquiry,
    program: Program,
    admission_date: datetime.date,
    bed: Bed | None = None,
    now: datetime.datetime | None = None,
) -> AdmissionHold:
    """Schedule the admission of a verified inquiry into ``program`` on ``admission_date``: a
    place held for it from that date (and a bed, in a program with beds: ``bed`` or the first
    free one), until ``lapses_on`` (the date plus the program's grace days). A scheduled
    inquiry is rescheduled: its hold is released and the new one made in the same transaction,
    and the place it no longer needs is offered to the waitlist.

    Refusals: 409 ``invalid_state`` (not verifying or scheduled), ``program_full`` (no place
    from the date, live holds and offers counted), ``bed_taken``, ``bed_held``,
    ``no_free_bed``; 400 for another clinic's or an inactive program, a bed not the program's,
    a date before the clinic's today."""
    now = now or timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    inquiry_require_open(inquiry, "scheduling an admission")
    if inquiry.status not in (InquiryStatus.VERIFYING, InquiryStatus.SCHEDULED):
        raise Conflict(
            f"This inquiry is {inquiry.get_status_display().lower()}: an admission is scheduled "
            "once benefits are verified.",
            code="invalid_state",
        )
    errors = {}
    if program.clinic_id != inquiry.clinic_id:
        errors["program"] = ["This program is not one of the inquiry's clinic."]
    elif not program.is_active:
        errors["program"] = ["This program no longer takes admissions."]
    if admission_date < inquiry.clinic.today(now):
        errors["admission_date"] = ["The admission date cannot be in the clinic's past."]
    if errors:
        raise ValidationError(errors)
    previous = _live_hold(inquiry)
    # The programs' locks (in id order) serialise this hold with every admission, offer and hold
    # of the program: the last place goes to exactly one of them.
    locked = programs_lock([program.pk, *([previous.program_id] if previous else [])])
    program = locked[program.pk]
    _require_place(
        program,
        admission_date,
        now=now,
        for_hold=previous if previous and previous.program_id == program.pk else None,
    )
    if bed is None and previous is not None and previous.program_id == program.pk:
        bed = previous.bed  # a rescheduled admission keeps its bed when it is still free
    held_bed = _hold_bed(program, bed, admission_date, inquiry=inquiry)
    if previous is not None:
        _close_hold(previous, status=HoldStatus.RELEASED, actor=actor, now=now, inquiry=inquiry)
    hold = AdmissionHold(
        inquiry=inquiry,
        program=program,
        bed=held_bed,
        admission_date=admission_date,
        lapses_on=admission_date + datetime.timedelta(days=program.admission_hold_grace_days),
        created_by=actor,
        created_at=now,
    )
    try:
        # The partial unique indexes back the checks above up under any race: a savepoint, so
        # the refusal is answered as a conflict and the transaction rolls back cleanly.
        with transaction.atomic():
            hold.save()
    except IntegrityError as error:
        name = constraint_name(error)
        if name == "admission_hold_one_per_bed":
            raise Conflict(
                f"Bed {held_bed} is held for another admission.", code="bed_held"
            ) from error
        if name == "admission_hold_one_per_inquiry":
            raise Conflict("This inquiry already holds a place.", code="already_held") from error
        raise
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=hold,
        clinic=inquiry.clinic_id,
        patient_id=inquiry.patient_id,
    )
    program_changed = inquiry.program_id != program.pk
    if program_changed:
        inquiry.program = program
        inquiry.save(update_fields=["program", "updated_at"])
        refresh_version(inquiry)
    if inquiry.status == InquiryStatus.VERIFYING:
        inquiry_status_move(inquiry, to_status=InquiryStatus.SCHEDULED, actor=actor, now=now)
    elif program_changed:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=inquiry,
            clinic=inquiry.clinic_id,
            patient_id=inquiry.patient_id,
        )
    if previous is not None:
        waitlist_offer_places(actor=actor, program=locked[previous.program_id], now=now)
    return hold


# Closing ------------------------------------------------------------------------------------------


@transaction.atomic
def inquiry_close(
    *,
    actor,
    inquiry: Inquiry,
    reason: str,
    note: str = "",
    now: datetime.datetime | None = None,
) -> Inquiry:
    """Close an open inquiry as not admitted with ``reason`` (a ``NotAdmittedReason``; ``note``
    goes in its history). A place it held is released and offered to the program's waitlist in
    the same transaction (the offer's notice leaves after commit, by beat). 409
    ``invalid_state`` for a closed inquiry; 400 for an unknown reason."""
    now = now or timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    inquiry_require_open(inquiry, "closing")
    if reason not in NotAdmittedReason.values:
        raise ValidationError({"reason": [f"Choose one of {', '.join(NotAdmittedReason.values)}."]})
    hold = _live_hold(inquiry)
    program = None
    if hold is not None:
        program = programs_lock([hold.program_id])[hold.program_id]
        _close_hold(hold, status=HoldStatus.RELEASED, actor=actor, now=now, inquiry=inquiry)
    inquiry_status_move(
        inquiry,
        to_status=InquiryStatus.NOT_ADMITTED,
        actor=actor,
        now=now,
        reason=note,
        not_admitted_reason=reason,
    )
    if program is not None:
        waitlist_offer_places(actor=actor, program=program, now=now)
    return inquiry


# Lapse --------------------------------------------------------------------------------------------


def admission_holds_lapse(*, now: datetime.datetime | None = None) -> int:
    """The beat's pass: every live hold past its last day (``lapses_on`` before its clinic's
    today) lapses, its inquiry is closed as not admitted (``no_show``, by the system) and the
    place is offered to the program's waitlist; one transaction per hold. An inquiry locked by
    someone else (another beat, a desk converting it right now) is skipped with ``SKIP
    LOCKED`` and looked at again on the next pass, so two passes at once lapse each hold once.
    Returns how many holds lapsed."""
    now = now or timezone.now()
    due = list(
        selectors.admission_holds_due_to_lapse(now).values_list("pk", "inquiry_id", "program_id")
    )
    lapsed = 0
    for hold_id, inquiry_id, program_id in due:
        with transaction.atomic():
            inquiry = (
                Inquiry.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("clinic")
                .filter(pk=inquiry_id)
                .first()
            )
            if inquiry is None:
                continue
            program = programs_lock([program_id])[program_id]
            # Re-read under the locks: the first of two passes may have lapsed it already.
            hold = (
                selectors.admission_holds_due_to_lapse(now)
                .select_for_update(of=("self",))
                .filter(pk=hold_id)
                .first()
            )
            if hold is None:
                continue
            _close_hold(hold, status=HoldStatus.LAPSED, actor=None, now=now, inquiry=inquiry)
            inquiry_status_move(
                inquiry,
                to_status=InquiryStatus.NOT_ADMITTED,
                actor=None,
                now=now,
                reason=LAPSE_REASON,
                not_admitted_reason=NotAdmittedReason.NO_SHOW,
            )
            waitlist_offer_places(actor=None, program=program, now=now)
            lapsed += 1
    return lapsed


# Conversion ---------------------------------------------------------------------------------------


def _patient_for(
    inquiry: Inquiry, patient: Patient | None, *, actor, allow_duplicate: bool
) -> Patient:
    """The patient the inquiry becomes: ``patient`` (of its clinic), the one it is linked to, or
    a new registration from its details (``patient_create``, with its duplicate check)."""
    if patient is None:
        patient = inquiry.patient
    if patient is not None:
        if patient.clinic_id != inquiry.clinic_id:
            raise ValidationError(
                {"patient": ["This patient is not registered at the inquiry's clinic."]}
            )
        return patient
    if inquiry.date_of_birth is None:
        raise ValidationError(
            {
                "date_of_birth": [
                    "Record the person's date of birth on the inquiry before registering them."
                ]
            }
        )
    return patient_create(
        actor=actor,
        clinic=inquiry.clinic,
        first_name=inquiry.first_name,
        last_name=inquiry.last_name,
        date_of_birth=inquiry.date_of_birth,
        email=inquiry.email,
        phone=inquiry.phone,
        allow_duplicate=allow_duplicate,
    )


def _coverage_from_verification(
    inquiry: Inquiry, patient: Patient, *, actor, start_date: datetime.date
) -> Coverage | None:
    """The latest eligible verification of benefits as the patient's primary coverage from the
    admission (UR's ``coverage_create``). A primary coverage already on file from that date
    with the same payer and member id is kept; one of another payer or member is a 409
    ``primary_coverage_on_file`` (staff end it, or correct it, first)."""
    verification = (
        inquiry.verifications.filter(outcome=BenefitsOutcome.ELIGIBLE)
        .select_related("payer")
        .order_by("-verified_at", "-id")
        .first()
    )
    if verification is None:
        return None
    on_file = (
        Coverage.objects.filter(patient=patient, priority=CoveragePriority.PRIMARY)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=start_date))
        .order_by("start_date", "id")
    )
    same = on_file.filter(
        payer=verification.payer, member_id=verification.member_id, start_date__lte=start_date
    ).first()
    if same is not None:
        return same
    if on_file.exists():
        raise Conflict(
            "The patient already has a primary coverage from the admission date on; end or "
            "correct it before admitting, so the verified benefits can become the coverage.",
            code="primary_coverage_on_file",
        )
    return coverage_create(
        actor=actor,
        patient=patient,
        payer=verification.payer,
        start_date=start_date,
        member_id=verification.member_id,
        group_number=verification.group_number,
        subscriber_relation=verification.subscriber_relation,
        priority=CoveragePriority.PRIMARY,
    )


@transaction.atomic
def inquiry_convert(
    *,
    actor,
    inquiry: Inquiry,
    patient: Patient | None = None,
    primary_clinician=None,
    allow_duplicate: bool = False,
    now: datetime.datetime | None = None,
) -> Enrollment:
    """Admit the person of a scheduled inquiry into the place held for them, in one transaction:
    register them as a patient from the inquiry's details (or link ``patient``, or the patient
    the inquiry is linked to), admit them from the clinic's today into the held place
    (``enrollment_create`` with the hold), put them in the held bed, make the latest eligible
    verification of benefits their coverage, and close the hold (converted) and the inquiry
    (admitted, naming the patient and the admission). Any refusal leaves nothing written.

    From the admission date through ``lapses_on`` only: 409 ``admission_not_due`` before,
    ``hold_lapsed`` after; 409 ``invalid_state`` unless scheduled with a live hold;
    ``possible_duplicate`` (with the ids) when a new registration looks like a patient of the
    clinic, unless ``allow_duplicate``; and the admission's own refusals."""
    now = now or timezone.now()
    inquiry = inquiry_lock(inquiry.pk)
    hold = _live_hold(inquiry) if inquiry.status == InquiryStatus.SCHEDULED else None
    if hold is None:
        raise Conflict(
            f"This inquiry is {inquiry.get_status_display().lower()}: only a scheduled inquiry "
            "with a held place is admitted.",
            code="invalid_state",
        )
    program = programs_lock([hold.program_id])[hold.program_id]
    today = inquiry.clinic.today(now)
    if today < hold.admission_date:
        raise Conflict(
            f"The admission is scheduled for {hold.admission_date:%Y-%m-%d}; admit on or after "
            "that day (or reschedule).",
            code="admission_not_due",
        )
    if today > hold.lapses_on:
        raise Conflict(
            f"The held place waited through {hold.lapses_on:%Y-%m-%d}; schedule the admission "
            "again.",
            code="hold_lapsed",
        )
    patient = _patient_for(inquiry, patient, actor=actor, allow_duplicate=allow_duplicate)
    inquiry.patient = patient
    enrollment = enrollment_create(
        actor=actor,
        patient=patient,
        program=program,
        start_date=today,
        primary_clinician=primary_clinician,
        now=now,
        reason="Admitted from an inquiry.",
        for_hold=hold,
    )
    hold.enrollment = enrollment
    _close_hold(hold, status=HoldStatus.CONVERTED, actor=actor, now=now, inquiry=inquiry)
    if hold.bed is not None:
        bed_assign(actor=actor, enrollment=enrollment, bed=hold.bed, date=today)
    _coverage_from_verification(inquiry, patient, actor=actor, start_date=today)
    inquiry.enrollment = enrollment
    inquiry_status_move(inquiry, to_status=InquiryStatus.ADMITTED, actor=actor, now=now)
    return enrollment
