"""Measurement-based care (issue 24): programs' measure schedules, what is due, the patient's and
the clinicians' responses scored by the instruments' own functions (``patients.instruments``),
the safety net and the neutral reminders."""

import datetime
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.errors import Conflict, ServiceError
from clinic.models import AlertKind, AuditAction, Role, StaffAlert
from clinic.selectors import CLINICAL_ROLES, acts_for_clinic
from clinic.services import alert_raise, audit_record
from clinic.versions import refresh_version, require_version
from patients.instruments import INSTRUMENTS, score
from patients.models import Level, Patient, ReminderChannel
from programs.models import (
    ORDERED_INSTRUMENT_CODES,
    Enrollment,
    EnrollmentStatus,
    MeasureOrder,
    MeasureReminder,
    MeasureResponse,
    MeasureSchedule,
    MeasureSource,
    NoticeStatus,
    Program,
)
from programs.selectors import measures_due
from programs.services import outbox
from programs.services.waitlist_notices import notice_channel

# A new program's schedules by its level (DOMAIN.md): PHQ-9 and GAD-7 at admission, every 14
# days and before discharge everywhere; the BAM at admission and every 30 days in IOP and
# outpatient; CIWA-Ar and COWS on a clinician's order in residential (withdrawal management).
_MOOD = [
    ("phq9", {"at_admission": True, "every_days": 14, "at_discharge": True}),
    ("gad7", {"at_admission": True, "every_days": 14, "at_discharge": True}),
]
_BAM = [("bam", {"at_admission": True, "every_days": 30})]
_WITHDRAWAL = [("ciwa_ar", {"by_order": True}), ("cows", {"by_order": True})]
DEFAULT_SCHEDULES = {
    Level.RESIDENTIAL: _MOOD + _WITHDRAWAL,
    Level.PHP: _MOOD,
    Level.IOP: _MOOD + _BAM,
    Level.OUTPATIENT: _MOOD + _BAM,
}


def measure_schedules_seed(program: Program) -> None:
    """Give ``program`` its level's default schedules it lacks (idempotent: an instrument it
    already schedules is kept as it is)."""
    MeasureSchedule.objects.bulk_create(
        [
            MeasureSchedule(program=program, instrument=instrument, **when)
            for instrument, when in DEFAULT_SCHEDULES[program.level]
        ],
        ignore_conflicts=True,
    )


# Who records, orders and schedules ----------------------------------------------------------------

# Staff who administer an instrument or order one: those who treat patients (as they record
# assessments' clinical picture); admissions and utilization review read.
MEASURE_RECORD_ROLES = CLINICAL_ROLES
MEASURE_ORDER_ROLES = CLINICAL_ROLES
# A program's schedules are the clinic's policy: supervisors set them.
MEASURE_SCHEDULE_ROLES = (Role.SUPERVISOR,)

# The safety alert says its kind and where to open it: never a score, an answer or a name.
SAFETY_ALERT_MESSAGE = "A measure needs safety follow-up today: open it in Continuum."
# The reminder's text: the clinic's public name and a check-in waiting, nothing else (42 CFR
# Part 2: never the instrument, a mood, a program or treatment).
REMINDER_TEXT = "You have a check-in waiting in the app."
NO_CHANNEL = "No e-mail or SMS consent on file."
NOT_DUE = "No longer due: answered before it went out, or the stay ended."


def _is_patients_account(actor, patient: Patient) -> bool:
    return (
        actor is not None
        and actor.is_authenticated
        and patient.app_user_id is not None
        and actor.pk == patient.app_user_id
    )


def _full_clean(obj, *, exclude=()) -> None:
    """Validate fields and check constraints in Python (a 400 naming the field); a unique
    constraint is left to the database (a 409 with its code)."""
    obj.full_clean(exclude=list(exclude), validate_unique=False)


# Recording ---------------------------------------------------------------------------------------


def measure_current_stay(patient: Patient) -> Enrollment | None:
    """The patient's admitted stay a response belongs to (the latest admitted, should there be
    several), or None between stays."""
    return (
        Enrollment.objects.filter(patient=patient, status=EnrollmentStatus.ADMITTED)
        .select_related("program__clinic", "primary_clinician")
        .order_by("-start_date", "-id")
        .first()
    )


@transaction.atomic
def measure_record(
    *,
    actor,
    patient: Patient,
    instrument: str,
    answers,
    submission_key: uuid.UUID | None = None,
    completed_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> tuple[MeasureResponse, bool]:
    """Record one completed instrument and whether it is new: by the patient's own app account
    (source ``patient``; only the instruments patients answer: 400 ``clinician_rated``
    otherwise; completed now) or by a clinician or supervisor of the patient's clinic (source
    ``staff``; any instrument; ``completed_at`` not in the future, default now).

    The answers are validated and scored by the instrument's own function (a 400 naming each bad
    item, ``answers.<key>``); the response joins the patient's admitted stay (none between
    stays). A retried submission (the same ``submission_key`` for the patient) returns the first
    response, unchanged and not alerted again: the patient's row is locked first, so two
    identical submissions at once make one response. A flagged response (a safety item, a severe
    band) raises its one safety alert (``measure_safety_alert_raise``)."""
    now = now or timezone.now()
    own = _is_patients_account(actor, patient)
    if not own and not acts_for_clinic(
        actor, clinic_id=patient.clinic_id, roles=MEASURE_RECORD_ROLES
    ):
        raise PermissionDenied(
            "Only the patient, or a clinician or supervisor of their clinic, records a measure."
        )
    definition = INSTRUMENTS.get(instrument)
    if definition is None:
        raise ValidationError(
            {"instrument": [f"Choose one of {', '.join(sorted(INSTRUMENTS))}."]},
            code="invalid",
        )
    if own and definition.administered_by != "patient":
        raise ServiceError(
            f"The {definition.short_name} is rated by a clinician, not answered in the app.",
            code="clinician_rated",
            fields={"instrument": ["A clinician rates this instrument."]},
        )
    # Ordered before the key is looked up: a concurrent identical submission waits here, then
    # finds the first one.
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if submission_key is not None:
        first = MeasureResponse.objects.filter(patient=patient, submission_key=submission_key)
        first = first.select_related("alert").first()
        if first is not None:
            return first, False
    if own or completed_at is None:
        completed_at = now
    elif completed_at > now:
        raise ValidationError({"completed_at": ["A measure cannot be completed in the future."]})
    scored = score(instrument, answers, sex=patient.screening_sex)
    stay = measure_current_stay(patient)
    response = MeasureResponse(
        patient=patient,
        enrollment=stay,
        instrument=instrument,
        answers=answers,
        total=scored.total,
        band=scored.band,
        subscales=scored.subscales,
        safety_flags=list(scored.safety),
        severe=scored.severe,
        source=MeasureSource.PATIENT if own else MeasureSource.STAFF,
        recorded_by=actor,
        completed_at=completed_at,
        submission_key=submission_key,
    )
    response.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=response,
        clinic=patient.clinic_id,
        patient_id=patient.pk,
    )
    if response.safety_flags or response.severe:
        measure_safety_alert_raise(response=response, stay=stay, now=now)
    return response, True


def measure_safety_recipients(stay: Enrollment | None) -> dict:
    """Whom a safety alert goes to, as ``alert_raise`` takes it: the stay's primary clinician
    and the clinic's supervisors at once; the supervisors alone without one."""
    clinician = stay.primary_clinician if stay is not None else None
    return {"recipient": clinician, "recipient_role": Role.SUPERVISOR}


def measure_safety_alert_raise(
    *, response: MeasureResponse, stay: Enrollment | None = None, now=None
) -> StaffAlert:
    """The one ``measure_safety`` alert of a flagged response (idempotent: ``alert_raise`` keys
    it on the response), linked on the response."""
    if response.alert_id is not None:
        return response.alert
    alert = alert_raise(
        clinic_id=response.patient.clinic_id,
        kind=AlertKind.MEASURE_SAFETY,
        subject=response,
        message=SAFETY_ALERT_MESSAGE,
        patient_id=response.patient_id,
        now=now or response.completed_at,
        **measure_safety_recipients(stay),
    )
    # The one change the append-only trigger allows: the alert it raised.
    MeasureResponse.objects.filter(pk=response.pk).update(alert=alert)
    response.alert = alert
    return alert


# Schedules ---------------------------------------------------------------------------------------


def _require_schedule_role(actor, program: Program) -> None:
    if not acts_for_clinic(actor, clinic_id=program.clinic_id, roles=MEASURE_SCHEDULE_ROLES):
        raise PermissionDenied("Only supervisors of the program's clinic set its measures.")


@transaction.atomic
def measure_schedule_save(
    *,
    actor,
    program: Program,
    instrument: str,
    at_admission: bool = False,
    every_days: int | None = None,
    at_discharge: bool = False,
    by_order: bool = False,
    schedule: MeasureSchedule | None = None,
    expected_versions=None,
) -> MeasureSchedule:
    """Schedule ``instrument`` in ``program`` (a new schedule; 409 ``schedule_exists`` when the
    program has one), or change ``schedule`` (its program and instrument stay; 412 when it is
    no longer at one of ``expected_versions``). A schedule that never falls due, or repeats
    outside 1 to 365 days, is a 400 (the database's rule)."""
    _require_schedule_role(actor, program)
    if schedule is not None:
        schedule = MeasureSchedule.objects.select_for_update().get(pk=schedule.pk)
        require_version(schedule, expected_versions)
        if (schedule.program_id, schedule.instrument) != (program.pk, instrument):
            raise ValidationError({"instrument": ["A schedule's program and instrument stay."]})
        action = AuditAction.UPDATE
    else:
        schedule = MeasureSchedule(program=program, instrument=instrument)
        action = AuditAction.CREATE
    schedule.at_admission = bool(at_admission)
    schedule.every_days = every_days
    schedule.at_discharge = bool(at_discharge)
    schedule.by_order = bool(by_order)
    if by_order and instrument not in ORDERED_INSTRUMENT_CODES:
        raise ValidationError(
            {"by_order": ["Only clinician-rated instruments (CIWA-Ar, COWS) are ordered."]}
        )
    _full_clean(schedule, exclude=["program"])
    schedule.save()
    audit_record(actor=actor, action=action, obj=schedule, clinic=program.clinic_id)
    return refresh_version(schedule)


@transaction.atomic
def measure_schedule_delete(*, actor, schedule: MeasureSchedule, expected_versions=None) -> None:
    """Stop measuring the schedule's instrument in its program (responses on file stay); 412
    when it changed since the caller read it (``expected_versions``)."""
    schedule = (
        MeasureSchedule.objects.select_for_update().select_related("program").get(pk=schedule.pk)
    )
    _require_schedule_role(actor, schedule.program)
    require_version(schedule, expected_versions)
    audit_record(
        actor=actor, action=AuditAction.DELETE, obj=schedule, clinic=schedule.program.clinic_id
    )
    schedule.delete()


# Orders ------------------------------------------------------------------------------------------


@transaction.atomic
def measure_order_start(
    *,
    actor,
    enrollment: Enrollment,
    instrument: str,
    every_hours: int,
    now: datetime.datetime | None = None,
) -> MeasureOrder:
    """Order a clinician-rated instrument (CIWA-Ar, COWS) every ``every_hours`` (1 to 24) hours
    in an admitted stay, due at once; 409 ``invalid_state`` for a stay not admitted, 409
    ``order_running`` while an order for it runs."""
    now = now or timezone.now()
    enrollment = (
        Enrollment.objects.select_for_update().select_related("program").get(pk=enrollment.pk)
    )
    if not acts_for_clinic(
        actor, clinic_id=enrollment.program.clinic_id, roles=MEASURE_ORDER_ROLES
    ):
        raise PermissionDenied("Only clinicians and supervisors of the clinic order a measure.")
    if enrollment.status != EnrollmentStatus.ADMITTED:
        raise Conflict("A measure is ordered in an admitted stay.", code="invalid_state")
    if instrument not in ORDERED_INSTRUMENT_CODES:
        raise ValidationError(
            {"instrument": ["Only clinician-rated instruments (CIWA-Ar, COWS) are ordered."]}
        )
    if MeasureOrder.objects.filter(
        enrollment=enrollment, instrument=instrument, stopped_at__isnull=True
    ).exists():
        raise Conflict("This instrument is already ordered for the stay.", code="order_running")
    order = MeasureOrder(
        enrollment=enrollment,
        instrument=instrument,
        every_hours=every_hours,
        ordered_by=actor,
        ordered_at=now,
    )
    _full_clean(order, exclude=["enrollment", "ordered_by"])
    order.save()
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=order,
        clinic=enrollment.program.clinic_id,
        patient_id=enrollment.patient_id,
    )
    return order


@transaction.atomic
def measure_order_stop(
    *, actor, order: MeasureOrder, now: datetime.datetime | None = None
) -> MeasureOrder:
    """Stop a running order (409 ``invalid_state`` when it was stopped)."""
    now = now or timezone.now()
    order = (
        MeasureOrder.objects.select_for_update()
        .select_related("enrollment__program")
        .get(pk=order.pk)
    )
    clinic_id = order.enrollment.program.clinic_id
    if not acts_for_clinic(actor, clinic_id=clinic_id, roles=MEASURE_ORDER_ROLES):
        raise PermissionDenied("Only clinicians and supervisors of the clinic stop an order.")
    if order.stopped_at is not None:
        raise Conflict("The order was already stopped.", code="invalid_state")
    order.stopped_at = max(now, order.ordered_at)
    order.stopped_by = actor
    order.save(update_fields=["stopped_at", "stopped_by"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=order,
        clinic=clinic_id,
        patient_id=order.enrollment.patient_id,
    )
    return order


# Reminders ---------------------------------------------------------------------------------------

PATIENT_INSTRUMENTS = frozenset(
    code for code, definition in INSTRUMENTS.items() if definition.administered_by == "patient"
)
PLAN_BATCH = 500


def measure_reminders_plan(*, now: datetime.datetime | None = None) -> int:
    """Queue one reminder (due now) for every patient-administered measure due today
    (``measures_due``) in an admitted stay whose patient agreed to e-mail or SMS; once per due
    occurrence ever (the unique ``(enrollment, instrument, due_on)`` decides, so a second pass,
    or two at once, add nothing). Returns how many were queued (by this pass or, in a race, a
    concurrent one)."""
    now = now or timezone.now()
    stays = (
        Enrollment.objects.filter(status=EnrollmentStatus.ADMITTED)
        .select_related("program__clinic", "patient")
        .order_by("pk")
    )
    queued = 0
    last = 0
    while True:
        page = list(stays.filter(pk__gt=last)[:PLAN_BATCH])
        if not page:
            return queued
        last = page[-1].pk
        with_channel = [stay for stay in page if notice_channel(stay.patient)]
        due = measures_due(with_channel, now=now)
        rows = [
            MeasureReminder(
                enrollment=stay,
                patient=stay.patient,
                instrument=measure.instrument,
                due_on=measure.due_on,
                due_at=now,
                created_at=now,
            )
            for stay in with_channel
            for measure in due[stay.pk]
            if measure.instrument in PATIENT_INSTRUMENTS
        ]
        # Earlier passes' reminders are left out of the count (one query); a concurrent pass's
        # are refused by the unique constraint and may be counted by both.
        planned = set(
            MeasureReminder.objects.filter(
                enrollment__in=with_channel, due_on__in={row.due_on for row in rows}
            ).values_list("enrollment_id", "instrument", "due_on")
        )
        rows = [r for r in rows if (r.enrollment_id, r.instrument, r.due_on) not in planned]
        MeasureReminder.objects.bulk_create(rows, ignore_conflicts=True)
        queued += len(rows)


def reminder_text(public_name: str) -> tuple[str, str]:
    """``(subject, text)`` of a measure reminder: the clinic's public name and a check-in
    waiting in the app, nothing else."""
    return f"Message from {public_name}", REMINDER_TEXT


def _reminder_outcome(reminder: MeasureReminder, now: datetime.datetime) -> dict:
    """Send one claimed reminder, unless the measure was answered meanwhile or the stay ended;
    the fields to record."""
    # What is due is re-read now (its one home): a measure answered since, or a stay ended,
    # is not reminded of.
    due = measures_due([reminder.enrollment], now=now)[reminder.enrollment_id]
    if reminder.instrument not in {measure.instrument for measure in due}:
        return MEASURE_REMINDERS.fields(NoticeStatus.SKIPPED, last_error=NOT_DUE)
    channel = notice_channel(reminder.patient)
    if not channel:
        return MEASURE_REMINDERS.fields(NoticeStatus.SKIPPED, last_error=NO_CHANNEL)
    clinic = reminder.enrollment.program.clinic
    subject, text = reminder_text(clinic.public_name)
    return outbox.channel_send(
        MEASURE_REMINDERS,
        reminder,
        clinic=clinic,
        channel=channel,
        to=reminder.patient.email if channel == ReminderChannel.EMAIL else reminder.patient.phone,
        subject=subject,
        text=text,
        now=now,
    )


MEASURE_REMINDERS = outbox.Outbox(
    model=MeasureReminder,
    status_field="status",
    due_field="due_at",
    related=("enrollment__program__clinic", "patient"),
    outcome=_reminder_outcome,
    label="Measure reminder",
)


def measure_reminders_send(*, limit: int = outbox.CLAIM_BATCH) -> dict[str, int]:
    """Claim and send up to ``limit`` due measure reminders (``outbox.deliver_due``); the count
    of each outcome."""
    return outbox.deliver_due(MEASURE_REMINDERS, limit=limit)
