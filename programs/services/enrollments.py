"""Enrollments: admission with capacity, the waitlist and its offers, discharge, transitions and
beds. One atomic function per state transition; each locks what it changes, audits, and appends
a change of status to the enrollment's history (``_status_change_record``).

Capacity is checked under a lock on the program's row: concurrent admissions to one program queue
there, so the last place goes to exactly one request. The database constraints (exclusion
constraints on date ranges, the state-machine trigger) hold the rest even if a caller skips a
check.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AlertKind, AuditAction, Bed, Role
from clinic.selectors import CLINICAL_ROLES, is_clinic_staff
from clinic.services import alert_raise, audit_record
from patients.models import Assessment, Level, Patient, ReminderChannel
from programs.locks import program_lock, programs_lock
from programs.models import (
    OCCUPYING,
    AdmissionHold,
    BedAssignment,
    DischargeReason,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStatusChange,
    HoldStatus,
    NoticeStatus,
    OfferOutcome,
    Program,
    Transition,
    TransitionKind,
    WaitlistOffer,
)
from programs.selectors import program_free_places, program_places
from programs.services import discharge_summaries, follow_ups, schedules, waitlist_notices

# Who may take each enrollment step, in the API and the admin alike: admissions enroll, admit,
# cancel and assign beds; admissions and clinicians discharge; clinicians decide transitions.
ACTION_ROLES = {
    "enroll": (Role.ADMISSIONS,),
    "admit": (Role.ADMISSIONS,),
    "cancel": (Role.ADMISSIONS,),
    "bed": (Role.ADMISSIONS,),
    "discharge": (Role.ADMISSIONS, Role.CLINICIAN),
    "transition": (Role.CLINICIAN,),
}


def _lock_program(program: Program) -> Program:
    # Every admission, discharge and offer of a program takes this lock first: it serialises
    # the capacity check against concurrent admissions (the race for the last place), and
    # the roster updates against new sessions of the program (programs/locks.py).
    return program_lock(program.pk)


def _lock_enrollment(enrollment: Enrollment) -> Enrollment:
    return (
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program", "patient")
        .get(pk=enrollment.pk)
    )


def _status_change_record(
    enrollment: Enrollment,
    *,
    from_status: str,
    actor,
    now: datetime.datetime,
    effective_date: datetime.date,
    reason: str = "",
) -> EnrollmentStatusChange:
    """Append the move of ``enrollment`` from ``from_status`` ("" when it is new) to its
    current status to its history. Every service that changes a status calls this in its own
    transaction, so a refused or rolled-back change leaves no row."""
    return EnrollmentStatusChange.objects.create(
        enrollment=enrollment,
        patient_id=enrollment.patient_id,
        from_status=from_status,
        to_status=enrollment.status,
        effective_date=effective_date,
        changed_at=now,
        changed_by=actor if actor is not None and actor.is_authenticated else None,
        reason=reason,
    )


# Capacity -----------------------------------------------------------------------------------------


def _require_place(
    program: Program,
    on_date: datetime.date,
    *,
    now: datetime.datetime,
    for_enrollment: Enrollment | None = None,
    for_hold: AdmissionHold | None = None,
) -> None:
    if (
        program_free_places(
            program, on_date, now=now, for_enrollment=for_enrollment, for_hold=for_hold
        )
        <= 0
    ):
        raise Conflict(
            f"{program.name} has no free place from {on_date:%Y-%m-%d}.", code="program_full"
        )


# Enrollment -------------------------------------------------------------------------------------


def _planned_end(
    program: Program, start: datetime.date, planned_end: datetime.date | None
) -> datetime.date:
    if planned_end is None:
        return start + datetime.timedelta(days=program.default_stay_days)
    if planned_end < start:
        raise ValidationError({"planned_end_date": ["The planned end cannot be before the start."]})
    stay = (planned_end - start).days
    if program.min_stay_days is not None and stay < program.min_stay_days:
        raise ValidationError(
            {
                "planned_end_date": [
                    f"{program.name} plans stays of at least {program.min_stay_days} days."
                ]
            }
        )
    if program.max_stay_days is not None and stay > program.max_stay_days:
        raise ValidationError(
            {
                "planned_end_date": [
                    f"{program.name} plans stays of at most {program.max_stay_days} days."
                ]
            }
        )
    return planned_end


def _check_enrollable(
    patient: Patient,
    program: Program,
    assessment: Assessment | None,
    start_date: datetime.date,
    *,
    now: datetime.datetime,
) -> None:
    if patient.clinic_id != program.clinic_id:
        raise ValidationError({"program": ["The program belongs to another clinic."]})
    if not program.is_active:
        raise ValidationError({"program": ["This program no longer takes admissions."]})
    if assessment is not None and assessment.patient_id != patient.pk:
        raise ValidationError({"assessment": ["The assessment is of another patient."]})
    if start_date < program.clinic.today(now) - datetime.timedelta(days=30):
        raise ValidationError(
            {"start_date": ["An admission cannot be back-dated by more than 30 days."]}
        )


def _is_clinician_of(user, program: Program) -> bool:
    return is_clinic_staff(user, clinic_id=program.clinic_id, roles=CLINICAL_ROLES)


def _check_primary_clinician(clinician, program: Program) -> None:
    # A risky check-in alerts the primary clinician by name; someone outside the clinic (or
    # without a clinical role) could not open it, and the care team would never hear of it.
    if clinician is not None and not _is_clinician_of(clinician, program):
        raise ValidationError(
            {
                "primary_clinician": [
                    f"The primary clinician must be a clinician or supervisor of "
                    f"{program.clinic.name}."
                ]
            }
        )


def _check_no_overlap(
    patient: Patient, program: Program, start: datetime.date, exclude: Enrollment | None = None
) -> None:
    """The friendly form of the exclusion constraints (which hold the rule regardless)."""
    stays = Enrollment.objects.filter(patient=patient, status__in=OCCUPYING).exclude(
        discharge_date__lte=start
    )
    if exclude is not None:
        stays = stays.exclude(pk=exclude.pk)
    if stays.filter(program=program).exists():
        raise Conflict(
            "The patient is already enrolled in this program on these dates.",
            code="overlapping_enrollment",
        )
    if program.level == Level.RESIDENTIAL and stays.filter(level=Level.RESIDENTIAL).exists():
        raise Conflict(
            "The patient already has a residential stay on these dates.",
            code="overlapping_residential_stay",
        )


@transaction.atomic
def enrollment_create(
    *,
    actor,
    patient: Patient,
    program: Program,
    start_date: datetime.date,
    waitlist: bool = False,
    planned_end_date: datetime.date | None = None,
    primary_clinician=None,
    assessment: Assessment | None = None,
    priority: int = 0,
    now: datetime.datetime | None = None,
    reason: str = "",
    for_hold: AdmissionHold | None = None,
) -> Enrollment:
    """Admit ``patient`` to ``program`` from ``start_date``; when it is full, refuse with
    ``program_full`` or, with ``waitlist``, put the patient on the waitlist. A transition passes
    its own clock (``now``) and the reason its history gives the creation. ``for_hold``: the
    admission of a scheduled inquiry, into the place its live hold keeps (the hold's own place
    counts as free for it; ``services.admission_holds.inquiry_convert``)."""
    now = now or timezone.now()
    program = _lock_program(program)
    _check_enrollable(patient, program, assessment, start_date, now=now)
    _check_primary_clinician(primary_clinician, program)
    planned_end = _planned_end(program, start_date, planned_end_date)
    enrollment = Enrollment(
        patient=patient,
        program=program,
        level=program.level,
        start_date=start_date,
        requested_start_date=start_date,
        planned_end_date=planned_end,
        primary_clinician=primary_clinician,
        assessment=assessment,
        priority=priority,
        requested_at=now,
        created_by=actor,
    )
    if program_free_places(program, start_date, now=now, for_hold=for_hold) > 0:
        _check_no_overlap(patient, program, start_date)
        enrollment.status = EnrollmentStatus.ADMITTED
        enrollment.admitted_at = now
    elif waitlist:
        if Enrollment.objects.filter(
            patient=patient, program=program, status=EnrollmentStatus.WAITLISTED
        ).exists():
            raise Conflict(
                "The patient is already on this program's waitlist.", code="already_waitlisted"
            )
        enrollment.status = EnrollmentStatus.WAITLISTED
    else:
        _require_place(program, start_date, now=now)
    enrollment.save()
    admitted = enrollment.status == EnrollmentStatus.ADMITTED
    _status_change_record(
        enrollment,
        from_status="",
        actor=actor,
        now=now,
        effective_date=start_date if admitted else program.clinic.today(now),
        reason=reason,
    )
    if admitted:
        schedules.rosters_follow_admission(enrollment)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=enrollment,
        clinic=program.clinic_id,
        patient_id=patient.pk,
    )
    return enrollment


@transaction.atomic
def enrollment_admit(
    *, actor, enrollment: Enrollment, start_date: datetime.date | None = None
) -> Enrollment:
    """Admit a waitlisted patient (a staff action, never automatic). A patient holding an
    offer uses the place held for them, and the offer is accepted. ``start_date`` becomes the
    admission date; ``requested_start_date`` keeps the date asked for."""
    now = timezone.now()
    program = _lock_program(enrollment.program)
    enrollment = _lock_enrollment(enrollment)
    if enrollment.status != EnrollmentStatus.WAITLISTED:
        raise Conflict(
            f"Only a waitlisted enrollment can be admitted; this one is {enrollment.status}.",
            code="invalid_state",
        )
    start = start_date or max(enrollment.start_date, program.clinic.today(now))
    _check_enrollable(enrollment.patient, program, enrollment.assessment, start, now=now)
    _require_place(program, start, now=now, for_enrollment=enrollment)
    _check_no_overlap(enrollment.patient, program, start, exclude=enrollment)
    planned_end = _planned_end(program, start, None)
    enrollment.status = EnrollmentStatus.ADMITTED
    enrollment.start_date = start
    enrollment.planned_end_date = planned_end
    enrollment.admitted_at = now
    enrollment.save(
        update_fields=["status", "start_date", "planned_end_date", "admitted_at", "updated_at"]
    )
    _status_change_record(
        enrollment,
        from_status=EnrollmentStatus.WAITLISTED,
        actor=actor,
        now=now,
        effective_date=start,
    )
    schedules.rosters_follow_admission(enrollment)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=enrollment,
        clinic=program.clinic_id,
        patient_id=enrollment.patient_id,
    )
    _close_offer(actor, enrollment, OfferOutcome.ACCEPTED, now=now)
    return enrollment


@transaction.atomic
def enrollment_discharge(
    *, actor, enrollment: Enrollment, date: datetime.date, reason: str
) -> Enrollment:
    """Discharge on ``date`` (a same-day discharge frees the place at once) and offer the freed
    place to the head of the waitlist."""
    now = timezone.now()
    program = _lock_program(enrollment.program)
    enrollment = _lock_enrollment(enrollment)
    _discharge(enrollment, actor=actor, now=now, date=date, reason=reason)
    discharge_summaries.discharge_summary_create(enrollment, actor=actor, now=now)
    # A discharge (not a transition: the episode goes on) from high-intensity care is called.
    follow_ups.follow_up_tasks_create(enrollment, now=now, actor=actor)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=enrollment,
        clinic=program.clinic_id,
        patient_id=enrollment.patient_id,
    )
    waitlist_offer_places(actor=actor, program=program, now=now)
    return enrollment


def _discharge(
    enrollment: Enrollment,
    *,
    actor,
    now: datetime.datetime,
    date: datetime.date,
    reason: str,
    history_reason: str | None = None,
) -> None:
    """Discharge with ``reason`` (a ``DischargeReason``); the history records
    ``history_reason`` (a transition's own words), else ``reason``."""
    if enrollment.status != EnrollmentStatus.ADMITTED:
        raise Conflict(
            f"Only an admitted enrollment can be discharged; this one is {enrollment.status}.",
            code="invalid_state",
        )
    if reason not in DischargeReason.values:
        raise ValidationError({"reason": [f"Choose one of {', '.join(DischargeReason.values)}."]})
    if date < enrollment.start_date:
        raise ValidationError(
            {
                "date": [
                    "A discharge cannot be before the admission "
                    f"({enrollment.start_date:%Y-%m-%d})."
                ]
            }
        )
    enrollment.status = EnrollmentStatus.DISCHARGED
    enrollment.discharge_date = date
    enrollment.discharge_reason = reason
    enrollment.save(update_fields=["status", "discharge_date", "discharge_reason", "updated_at"])
    _status_change_record(
        enrollment,
        from_status=EnrollmentStatus.ADMITTED,
        actor=actor,
        now=now,
        effective_date=date,
        reason=reason if history_reason is None else history_reason,
    )
    schedules.rosters_follow_discharge(enrollment)
    # The bed goes with the stay; an assignment that began after a late-recorded discharge
    # date closes where it began (it never held the bed).
    BedAssignment.objects.filter(enrollment=enrollment, end_date__isnull=True).update(
        end_date=Greatest("start_date", Value(date))
    )


@transaction.atomic
def enrollment_cancel(*, actor, enrollment: Enrollment, reason: str = "") -> Enrollment:
    """Take a patient off the waitlist (``reason`` goes in the history); an offer they held is
    withdrawn and its place offered on."""
    now = timezone.now()
    program = _lock_program(enrollment.program)
    enrollment = _lock_enrollment(enrollment)
    if enrollment.status != EnrollmentStatus.WAITLISTED:
        raise Conflict(
            f"Only a waitlisted enrollment can be cancelled; this one is {enrollment.status}.",
            code="invalid_state",
        )
    held_an_offer = enrollment.offer_expires_at is not None and enrollment.offer_expires_at > now
    enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.cancelled_at = now
    enrollment.offer_expires_at = None if held_an_offer else enrollment.offer_expires_at
    enrollment.save(update_fields=["status", "cancelled_at", "offer_expires_at", "updated_at"])
    _status_change_record(
        enrollment,
        from_status=EnrollmentStatus.WAITLISTED,
        actor=actor,
        now=now,
        effective_date=program.clinic.today(now),
        reason=reason.strip(),
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=enrollment,
        clinic=program.clinic_id,
        patient_id=enrollment.patient_id,
    )
    _close_offer(actor, enrollment, OfferOutcome.WITHDRAWN, now=now)
    if held_an_offer:
        waitlist_offer_places(actor=actor, program=program, now=now)
    return enrollment


# Waitlist -----------------------------------------------------------------------------------------


def waitlist_queue(program: Program):
    """The program's waitlist in offer order: higher priority first; within a priority, those
    never passed over by request time, then the passed-over, the one whose last offer is oldest
    first. Offers lapse in the order they were made, so the passed-over take turns: a patient
    who lapsed twice waits behind one who lapsed once before them, and the earliest request
    does not get every second chance."""
    last_offer_if_passed_over = Case(When(passed_over=True, then=F("offered_at")))
    return Enrollment.objects.filter(program=program, status=EnrollmentStatus.WAITLISTED).order_by(
        "-priority",
        "passed_over",
        last_offer_if_passed_over.asc(nulls_first=True),
        "requested_at",
        "id",
    )


def _close_offer(actor, enrollment: Enrollment, outcome: str, *, now: datetime.datetime) -> None:
    """Close the enrollment's open offer, if any, as ``outcome``. A notice not sent yet is then
    skipped by the sender (it re-reads the outcome after claiming the row)."""
    offer = (
        WaitlistOffer.objects.select_for_update()
        .filter(enrollment=enrollment, outcome=OfferOutcome.OPEN)
        .first()
    )
    if offer is None:
        return
    offer.outcome, offer.closed_at = outcome, now
    offer.save(update_fields=["outcome", "closed_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=offer,
        clinic=enrollment.program.clinic_id,
        patient_id=enrollment.patient_id,
    )


def _lapse_expired(*, actor, program: Program, now: datetime.datetime) -> list[int]:
    """Lapse the program's offers past their expiry: the patient goes behind the queue (passed
    over) and the place is free again. Call with the program locked. Returns their ids."""
    expired = list(
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("program")
        .filter(program=program, status=EnrollmentStatus.WAITLISTED, offer_expires_at__lte=now)
        .order_by("pk")
    )
    for enrollment in expired:
        # offered_at stays: it orders the passed-over (the oldest last offer first).
        enrollment.offer_expires_at = None
        enrollment.passed_over = True
        enrollment.save(update_fields=["offer_expires_at", "passed_over", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=enrollment,
            clinic=program.clinic_id,
            patient_id=enrollment.patient_id,
        )
        _close_offer(actor, enrollment, OfferOutcome.LAPSED, now=now)
    return [enrollment.pk for enrollment in expired]


_NOTICE_FOR_STAFF = {
    ReminderChannel.EMAIL: "The patient is asked by e-mail to call the clinic.",
    ReminderChannel.SMS: "The patient is asked by text message to call the clinic.",
    "": "The patient has no e-mail or SMS consent on file: call them.",
}


def waitlist_offer_next(
    *, actor, program: Program, now: datetime.datetime, skip=()
) -> WaitlistOffer | None:
    """Offer a free place to the first patient in queue order who holds no live offer (none,
    or one past its expiry), except those in ``skip``; record the offer, queue the patient's
    notice (sent by beat, ``services.waitlist_notices``) and alert admissions. Call with the
    program locked. Returns the offer, if one was made."""
    if (
        not program.is_active
        or program_free_places(program, program.clinic.today(now), now=now) <= 0
    ):
        return None
    candidate = (
        waitlist_queue(program)
        .filter(Q(offer_expires_at__isnull=True) | Q(offer_expires_at__lte=now))
        .exclude(pk__in=list(skip))
        .select_related("patient")
        .select_for_update(of=("self",))
        .first()
    )
    if candidate is None:
        return None
    expires_at = now + datetime.timedelta(hours=program.waitlist_offer_hours)
    channel = waitlist_notices.notice_channel(candidate.patient)
    offer = WaitlistOffer.objects.create(
        enrollment=candidate,
        patient_id=candidate.patient_id,
        offered_at=now,
        expires_at=expires_at,
        channel=channel,
        notice_status=NoticeStatus.PENDING if channel else NoticeStatus.SKIPPED,
        notice_due_at=now,
        last_error="" if channel else waitlist_notices.NO_CHANNEL,
    )
    candidate.offered_at, candidate.offer_expires_at = now, expires_at
    candidate.save(update_fields=["offered_at", "offer_expires_at", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=offer,
        clinic=program.clinic_id,
        patient_id=candidate.patient_id,
    )
    # The offer is the alert's subject: an alert is raised once per subject ever, and each
    # offer (a re-offer too) is one for admissions to act on.
    alert_raise(
        clinic_id=program.clinic_id,
        kind=AlertKind.WAITLIST_OFFER,
        subject=offer,
        recipient_role=Role.ADMISSIONS,
        patient_id=candidate.patient_id,
        message=(
            f"A place in {program.name} is offered to the next patient on its waitlist until "
            f"{expires_at:%Y-%m-%d %H:%M} UTC; admit them or cancel. {_NOTICE_FOR_STAFF[channel]}"
        )[:300],
    )
    return offer


def _offer_free_places(
    *, actor, program: Program, now: datetime.datetime, skip=()
) -> list[WaitlistOffer]:
    offers, skip = [], set(skip)
    # Each offer holds its place, so the loop ends when the places or the candidates run out;
    # the offered are skipped too, in case an offer held for 0 hours holds nothing.
    while (
        offer := waitlist_offer_next(actor=actor, program=program, now=now, skip=skip)
    ) is not None:
        offers.append(offer)
        skip.add(offer.enrollment_id)
    return offers


def waitlist_offer_places(
    *, actor, program: Program, now: datetime.datetime
) -> list[WaitlistOffer]:
    """Lapse the program's expired offers, then offer every free place, each to the next
    patient in queue order (``waitlist_offer_next``). Call with the program locked.

    A patient whose offer lapses in a call is not offered again in that call: the place goes to
    the next one waiting. When no one else waits, it stays unoffered until the next call (the
    beat's pass, ``WAITLIST_SCAN_SECONDS`` later, or the next discharge), which offers it to
    them again with a new alert: staff see the lapse and then a fresh offer, never a place left
    unoffered for good."""
    lapsed = _lapse_expired(actor=actor, program=program, now=now)
    return _offer_free_places(actor=actor, program=program, now=now, skip=lapsed)


def waitlist_expire_offers(*, now: datetime.datetime | None = None) -> int:
    """The beat's pass: in every program with a waitlisted patient holding no live offer, lapse
    expired offers and offer free places (``waitlist_offer_places``' rules). Idempotent.
    Returns how many offers lapsed."""
    now = now or timezone.now()
    waiting = Enrollment.objects.filter(status=EnrollmentStatus.WAITLISTED).filter(
        Q(offer_expires_at__isnull=True) | Q(offer_expires_at__lte=now)
    )
    with_expired = set(
        waiting.filter(offer_expires_at__lte=now).values_list("program_id", flat=True)
    )
    programs = list(
        Program.objects.filter(pk__in=waiting.values("program_id")).select_related("clinic")
    )
    # Read without locks first (a fixed number of queries), so that full programs, the usual
    # case, are never locked; the ones to act on are re-checked under their lock.
    places = program_places(programs, now=now)
    due = sorted(p.pk for p in programs if p.pk in with_expired or places[p.pk]["free_places"] > 0)
    lapsed = 0
    for program_id in due:
        with transaction.atomic():
            program = program_lock(program_id)
            ids = _lapse_expired(actor=None, program=program, now=now)
            _offer_free_places(actor=None, program=program, now=now, skip=ids)
            lapsed += len(ids)
    return lapsed


# Transitions --------------------------------------------------------------------------------------


def _check_kind(kind: str, source: Program, target: Program) -> None:
    if kind not in TransitionKind.values:
        raise ValidationError({"kind": [f"Choose one of {', '.join(TransitionKind.values)}."]})
    if kind == TransitionKind.STEP_DOWN and not target.intensity < source.intensity:
        raise ValidationError(
            {
                "kind": [
                    f"A step-down goes to a less intensive level than "
                    f"{source.level}; {target.name} is {target.level}."
                ]
            }
        )
    if kind == TransitionKind.STEP_UP and not target.intensity > source.intensity:
        raise ValidationError(
            {
                "kind": [
                    f"A step-up goes to a more intensive level than "
                    f"{source.level}; {target.name} is {target.level}."
                ]
            }
        )
    if kind == TransitionKind.LATERAL and target.level != source.level:
        raise ValidationError({"kind": ["A lateral move stays at the same level of care."]})


@transaction.atomic
def transition_create(
    *,
    actor,
    enrollment: Enrollment,
    to_program: Program,
    date: datetime.date,
    kind: str,
    reason: str,
    assessment: Assessment | None = None,
) -> Transition:
    """Discharge the source as ``transferred`` on ``date`` and admit to ``to_program`` on the
    same date, in one transaction: both happen or neither does. The history of both enrollments
    records the move with its reason."""
    now = timezone.now()
    # Lock both programs in id order so two opposite transitions cannot deadlock.
    programs = programs_lock([enrollment.program_id, to_program.pk])
    source = _lock_enrollment(enrollment)
    target = programs[to_program.pk]
    if source.status != EnrollmentStatus.ADMITTED:
        raise Conflict(
            f"Only an admitted enrollment can be transferred; this one is {source.status}.",
            code="invalid_state",
        )
    if target.pk == source.program_id:
        raise ValidationError({"to_program": ["The patient is already in this program."]})
    if not reason.strip():
        raise ValidationError({"reason": ["Give the reason for the move."]})
    _check_kind(kind, source.program, target)
    if assessment is not None and assessment.patient_id != source.patient_id:
        raise ValidationError({"assessment": ["The assessment is of another patient."]})
    _discharge(
        source,
        actor=actor,
        now=now,
        date=date,
        reason=DischargeReason.TRANSFERRED,
        history_reason=reason.strip(),
    )
    # A clinician who has left the clinic does not follow the patient: the new stay has none
    # (its alerts go to the clinic's clinicians) rather than the move being refused.
    clinician = source.primary_clinician
    if clinician is not None and not _is_clinician_of(clinician, target):
        clinician = None
    target_enrollment = enrollment_create(
        actor=actor,
        patient=source.patient,
        program=target,
        start_date=date,
        primary_clinician=clinician,
        assessment=assessment or source.assessment,
        now=now,
        reason=reason.strip(),
    )
    move = Transition.objects.create(
        kind=kind,
        patient_id=source.patient_id,
        from_enrollment=source,
        to_enrollment=target_enrollment,
        date=date,
        reason=reason.strip(),
        decided_by=actor,
        assessment=assessment,
        created_at=now,
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=source,
        clinic=source.program.clinic_id,
        patient_id=source.patient_id,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=move,
        clinic=source.program.clinic_id,
        patient_id=source.patient_id,
    )
    waitlist_offer_places(actor=actor, program=programs[source.program_id], now=now)
    return move


# Beds ---------------------------------------------------------------------------------------------


@transaction.atomic
def bed_assign(
    *, actor, enrollment: Enrollment, bed: Bed, date: datetime.date | None = None
) -> BedAssignment:
    """Put an admitted residential patient in ``bed`` from ``date``, moving them out of the bed
    they had."""
    enrollment = _lock_enrollment(enrollment)
    program = enrollment.program
    if enrollment.status != EnrollmentStatus.ADMITTED:
        raise Conflict("Only an admitted patient gets a bed.", code="invalid_state")
    if not program.beds.filter(pk=bed.pk).exists():
        raise ValidationError({"bed": [f"This bed is not one of {program.name}'s beds."]})
    start = date or max(enrollment.start_date, program.clinic.today(timezone.now()))
    if start < enrollment.start_date:
        raise ValidationError({"date": ["A bed is assigned from the admission on."]})
    Bed.objects.select_for_update().get(pk=bed.pk)
    # A bed held for a scheduled admission waits for that patient (the hold's conversion
    # closes the hold before it assigns the bed).
    if AdmissionHold.objects.filter(bed=bed, status=HoldStatus.HELD).exists():
        raise Conflict(
            f"Bed {bed} is held for a scheduled admission.",
            code="bed_held",
        )
    if (
        BedAssignment.objects.filter(bed=bed)
        .exclude(enrollment=enrollment)
        .exclude(end_date__lte=start)
        .exists()
    ):
        raise Conflict(f"Bed {bed} is taken from {start:%Y-%m-%d}.", code="bed_taken")
    current = BedAssignment.objects.filter(enrollment=enrollment, end_date__isnull=True).first()
    if current is not None and current.start_date > start:
        raise ValidationError(
            {
                "date": [
                    f"The patient is in bed {current.bed} from "
                    f"{current.start_date:%Y-%m-%d}; a move to another bed starts on or after "
                    "that date."
                ]
            }
        )
    if current is not None:
        current.end_date = start
        current.save(update_fields=["end_date"])
    assignment = BedAssignment.objects.create(
        bed=bed, enrollment=enrollment, start_date=start, assigned_by=actor
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=assignment,
        clinic=program.clinic_id,
        patient_id=enrollment.patient_id,
    )
    return assignment
