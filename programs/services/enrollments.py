"""Enrollments: admission with capacity, the waitlist and its offers, discharge, transitions and
beds. One atomic function per state transition; each locks what it changes and audits.

Capacity is checked under a lock on the program's row: concurrent admissions to one program queue
there, so the last place goes to exactly one request. The database constraints (exclusion
constraints on date ranges, the state-machine trigger) hold the rest even if a caller skips a
check.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Greatest
from django.utils import timezone

from clinic.errors import Conflict
from clinic.models import AlertKind, AuditAction, Bed, Role
from clinic.selectors import CLINICAL_ROLES, is_clinic_staff
from clinic.services import alert_raise, audit_record
from patients.models import Assessment, Level, Patient
from programs.locks import program_lock, programs_lock
from programs.models import (
    OCCUPYING,
    BedAssignment,
    DischargeReason,
    Enrollment,
    EnrollmentStatus,
    Program,
    Transition,
    TransitionKind,
)
from programs.services import schedules


def _audit(actor, action, obj, patient_id: int, clinic_id: int):
    audit_record(actor=actor, action=action, obj=obj, clinic=clinic_id, patient_id=patient_id)


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


def _today(program: Program) -> datetime.date:
    return timezone.localdate(timezone=program.clinic.zone)


# Capacity -----------------------------------------------------------------------------------------


def peak_occupancy(
    program: Program, from_date: datetime.date, exclude: Enrollment | None = None
) -> int:
    """The most places taken on any day from ``from_date`` on.

    Occupancy only rises at an admission's start, so its peak over ``[from_date, ∞)`` is at
    ``from_date`` or at a later start date.
    """
    stays = Enrollment.objects.filter(program=program, status__in=OCCUPYING).exclude(
        discharge_date__lte=from_date
    )
    if exclude is not None:
        stays = stays.exclude(pk=exclude.pk)
    ranges = list(stays.values_list("start_date", "discharge_date"))
    days = {from_date} | {start for start, _end in ranges if start > from_date}
    return max(
        (
            sum(1 for start, end in ranges if start <= day and (end is None or day < end))
            for day in days
        ),
        default=0,
    )


def held_offers(
    program: Program, *, now: datetime.datetime, exclude: Enrollment | None = None
) -> int:
    """Places held for waitlisted patients who were offered them and may still accept."""
    offers = Enrollment.objects.filter(
        program=program, status=EnrollmentStatus.WAITLISTED, offer_expires_at__gt=now
    )
    if exclude is not None:
        offers = offers.exclude(pk=exclude.pk)
    return offers.count()


def free_places(
    program: Program, on_date: datetime.date, *, for_enrollment: Enrollment | None = None
) -> int:
    """Places free from ``on_date`` on; an offered patient's own held place counts as free."""
    taken = peak_occupancy(program, on_date) + held_offers(
        program, now=timezone.now(), exclude=for_enrollment
    )
    return max(program.capacity - taken, 0)


def _require_place(
    program: Program, on_date: datetime.date, *, for_enrollment: Enrollment | None = None
) -> None:
    if free_places(program, on_date, for_enrollment=for_enrollment) <= 0:
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
    patient: Patient, program: Program, assessment: Assessment | None, start_date: datetime.date
) -> None:
    if patient.clinic_id != program.clinic_id:
        raise ValidationError({"program": ["The program belongs to another clinic."]})
    if not program.is_active:
        raise ValidationError({"program": ["This program no longer takes admissions."]})
    if assessment is not None and assessment.patient_id != patient.pk:
        raise ValidationError({"assessment": ["The assessment is of another patient."]})
    if start_date < _today(program) - datetime.timedelta(days=30):
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
) -> Enrollment:
    """Admit ``patient`` to ``program`` from ``start_date``; when it is full, refuse with
    ``program_full`` or, with ``waitlist``, put the patient on the waitlist."""
    program = _lock_program(program)
    _check_enrollable(patient, program, assessment, start_date)
    _check_primary_clinician(primary_clinician, program)
    planned_end = _planned_end(program, start_date, planned_end_date)
    enrollment = Enrollment(
        patient=patient,
        program=program,
        level=program.level,
        start_date=start_date,
        planned_end_date=planned_end,
        primary_clinician=primary_clinician,
        assessment=assessment,
        priority=priority,
        created_by=actor,
    )
    if free_places(program, start_date) > 0:
        _check_no_overlap(patient, program, start_date)
        enrollment.status = EnrollmentStatus.ADMITTED
        enrollment.admitted_at = timezone.now()
    elif waitlist:
        if Enrollment.objects.filter(
            patient=patient, program=program, status=EnrollmentStatus.WAITLISTED
        ).exists():
            raise Conflict(
                "The patient is already on this program's waitlist.", code="already_waitlisted"
            )
        enrollment.status = EnrollmentStatus.WAITLISTED
    else:
        _require_place(program, start_date)
    enrollment.save()
    if enrollment.status == EnrollmentStatus.ADMITTED:
        schedules.rosters_follow_admission(enrollment)
    _audit(actor, AuditAction.CREATE, enrollment, patient.pk, program.clinic_id)
    return enrollment


@transaction.atomic
def enrollment_admit(
    *, actor, enrollment: Enrollment, start_date: datetime.date | None = None
) -> Enrollment:
    """Admit a waitlisted patient (a staff action, never automatic). A patient holding an
    offer uses the place held for them."""
    program = _lock_program(enrollment.program)
    enrollment = _lock_enrollment(enrollment)
    if enrollment.status != EnrollmentStatus.WAITLISTED:
        raise Conflict(
            f"Only a waitlisted enrollment can be admitted; this one is {enrollment.status}.",
            code="invalid_state",
        )
    start = start_date or max(enrollment.start_date, _today(program))
    _check_enrollable(enrollment.patient, program, enrollment.assessment, start)
    _require_place(program, start, for_enrollment=enrollment)
    _check_no_overlap(enrollment.patient, program, start, exclude=enrollment)
    planned_end = _planned_end(program, start, None)
    enrollment.status = EnrollmentStatus.ADMITTED
    enrollment.start_date = start
    enrollment.planned_end_date = planned_end
    enrollment.admitted_at = timezone.now()
    enrollment.save(
        update_fields=["status", "start_date", "planned_end_date", "admitted_at", "updated_at"]
    )
    schedules.rosters_follow_admission(enrollment)
    _audit(actor, AuditAction.UPDATE, enrollment, enrollment.patient_id, program.clinic_id)
    return enrollment


@transaction.atomic
def enrollment_discharge(
    *, actor, enrollment: Enrollment, date: datetime.date, reason: str
) -> Enrollment:
    """Discharge on ``date`` (a same-day discharge frees the place at once) and offer the freed
    place to the head of the waitlist."""
    program = _lock_program(enrollment.program)
    enrollment = _lock_enrollment(enrollment)
    _discharge(enrollment, date=date, reason=reason)
    _audit(actor, AuditAction.UPDATE, enrollment, enrollment.patient_id, program.clinic_id)
    waitlist_offer_next(program=program)
    return enrollment


def _discharge(enrollment: Enrollment, *, date: datetime.date, reason: str) -> None:
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
    schedules.rosters_follow_discharge(enrollment)
    # The bed goes with the stay; an assignment that began after a late-recorded discharge
    # date closes where it began (it never held the bed).
    BedAssignment.objects.filter(enrollment=enrollment, end_date__isnull=True).update(
        end_date=Greatest("start_date", Value(date))
    )


@transaction.atomic
def enrollment_cancel(*, actor, enrollment: Enrollment) -> Enrollment:
    program = _lock_program(enrollment.program)
    enrollment = _lock_enrollment(enrollment)
    if enrollment.status != EnrollmentStatus.WAITLISTED:
        raise Conflict(
            f"Only a waitlisted enrollment can be cancelled; this one is {enrollment.status}.",
            code="invalid_state",
        )
    held_an_offer = (
        enrollment.offer_expires_at is not None and enrollment.offer_expires_at > timezone.now()
    )
    enrollment.status = EnrollmentStatus.CANCELLED
    enrollment.cancelled_at = timezone.now()
    enrollment.offer_expires_at = None if held_an_offer else enrollment.offer_expires_at
    enrollment.save(update_fields=["status", "cancelled_at", "offer_expires_at", "updated_at"])
    _audit(actor, AuditAction.UPDATE, enrollment, enrollment.patient_id, program.clinic_id)
    if held_an_offer:
        waitlist_offer_next(program=program)
    return enrollment


# Waitlist -----------------------------------------------------------------------------------------


def waitlist_queue(program: Program):
    """The program's waitlist in offer order: priority, then not yet passed over, then the
    earliest request."""
    return Enrollment.objects.filter(program=program, status=EnrollmentStatus.WAITLISTED).order_by(
        "-priority", "passed_over", "requested_at", "id"
    )


def waitlist_offer_next(*, program: Program) -> Enrollment | None:
    """Offer a free place to the next waitlisted patient who holds no offer yet, and tell
    admissions. Call with the program locked. Returns the offered enrollment, if any."""
    now = timezone.now()
    if free_places(program, _today(program)) <= 0:
        return None
    candidate = waitlist_queue(program).filter(offered_at__isnull=True).first()
    if candidate is None:
        return None
    candidate.offered_at = now
    candidate.offer_expires_at = now + datetime.timedelta(hours=program.waitlist_offer_hours)
    candidate.save(update_fields=["offered_at", "offer_expires_at", "updated_at"])
    alert_raise(
        clinic_id=program.clinic_id,
        kind=AlertKind.WAITLIST_OFFER,
        subject=candidate,
        recipient_role=Role.ADMISSIONS,
        patient_id=candidate.patient_id,
        message=f"A place in {program.name} is offered to the next patient on its waitlist "
        f"until {candidate.offer_expires_at:%Y-%m-%d %H:%M} UTC; admit them or cancel.",
    )
    return candidate


def waitlist_expire_offers() -> int:
    """Lapse offers past their expiry (the patient goes behind the queue) and pass each place
    on. Idempotent; run periodically by beat. Returns how many offers lapsed."""
    now = timezone.now()
    lapsed = 0
    program_ids = set(
        Enrollment.objects.filter(
            status=EnrollmentStatus.WAITLISTED,
            offer_expires_at__lte=now,
        ).values_list("program_id", flat=True)
    )
    for program_id in program_ids:
        with transaction.atomic():
            program = program_lock(program_id)
            expired = list(
                Enrollment.objects.select_for_update().filter(
                    program=program, status=EnrollmentStatus.WAITLISTED, offer_expires_at__lte=now
                )
            )
            for enrollment in expired:
                # Keep offered_at (history) but no longer hold the place: passed over.
                enrollment.offer_expires_at = None
                enrollment.passed_over = True
                enrollment.save(update_fields=["offer_expires_at", "passed_over", "updated_at"])
            lapsed += len(expired)
            for _ in expired:
                if waitlist_offer_next(program=program) is None:
                    break
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
    same date, in one transaction: both happen or neither does."""
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
    _discharge(source, date=date, reason=DischargeReason.TRANSFERRED)
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
    )
    _audit(actor, AuditAction.UPDATE, source, source.patient_id, source.program.clinic_id)
    _audit(actor, AuditAction.CREATE, move, source.patient_id, source.program.clinic_id)
    waitlist_offer_next(program=programs[source.program_id])
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
    start = date or max(enrollment.start_date, _today(program))
    if start < enrollment.start_date:
        raise ValidationError({"date": ["A bed is assigned from the admission on."]})
    Bed.objects.select_for_update().get(pk=bed.pk)
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
    _audit(actor, AuditAction.CREATE, assignment, enrollment.patient_id, program.clinic_id)
    return assignment
