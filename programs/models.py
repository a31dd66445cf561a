"""Programs (levels of care and their rules), enrollments with capacity and a waitlist, beds,
transitions between levels, aftercare plans and check-ins (DOMAIN.md, DESIGN.md "Invariants").

Occupancy of a place is the date range ``[start_date, discharge_date)`` of an admitted or
discharged enrollment (open-ended while admitted): a same-day discharge frees the place at once,
and a transition's source ends the day its target starts, so the two never overlap.
"""

import datetime
import functools
import operator
import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Lower, Now
from django.utils import timezone

from clinic.models import record_version_field
from patients.instruments import INSTRUMENT_CHOICES, INSTRUMENTS
from patients.models import (
    DisclosureCategory,
    DisclosurePurpose,
    Level,
    ReminderChannel,
    Track,
)

INSTRUMENT_CODES = [code for code, _name in INSTRUMENT_CHOICES]
# Clinician-rated instruments are given on a clinician's order (CIWA-Ar, COWS).
ORDERED_INSTRUMENT_CODES = [
    code for code, instrument in INSTRUMENTS.items() if instrument.administered_by == "clinician"
]

LEVEL_INTENSITY = {Level.RESIDENTIAL: 4, Level.PHP: 3, Level.IOP: 2, Level.OUTPATIENT: 1}
# HEDIS FUI's high-intensity care, as this clinic offers it (with programs giving withdrawal
# management, ``ProgramService.DETOX``): the discharges followed up and measured (issue 25).
HIGH_INTENSITY_LEVELS = (Level.RESIDENTIAL, Level.PHP)


class DateRange(Func):
    """``daterange(lower, upper, '[)')``; a NULL upper bound is open-ended."""

    function = "daterange"
    output_field = DateRangeField()

    def __init__(self, lower, upper):
        super().__init__(lower, upper, models.Value("[)"))


class ProgramService(models.TextChoices):
    DETOX = "detox", "Detoxification (withdrawal management)"
    INDIVIDUAL_THERAPY = "individual_therapy", "Individual therapy"
    GROUP_THERAPY = "group_therapy", "Group therapy"
    MAT = "mat", "Medication-assisted treatment"
    EDUCATION = "education", "Education sessions"
    FAMILY = "family", "Family sessions"
    RECREATION = "recreation", "Recreational activities"
    RELAPSE_PREVENTION = "relapse_prevention", "Relapse-prevention training"
    AFTERCARE_PLANNING = "aftercare_planning", "Aftercare planning"


# DOMAIN.md's numbers, the defaults a new program starts from (each stays editable per program).
LEVEL_DEFAULTS = {
    Level.RESIDENTIAL: {
        "min_stay_days": 28,
        "max_stay_days": 90,
        "default_stay_days": 30,
        "sessions_per_week_min": None,
        "sessions_per_week_max": None,
        "session_hours_min": None,
        "session_hours_max": None,
        "weekly_hours_min": None,
        "weekly_hours_max": None,
    },
    Level.PHP: {
        "min_stay_days": None,
        "max_stay_days": None,
        "default_stay_days": 30,
        "sessions_per_week_min": 5,
        "sessions_per_week_max": 5,
        "session_hours_min": 4,
        "session_hours_max": 6,
        "weekly_hours_min": 20,
        "weekly_hours_max": None,
    },
    Level.IOP: {
        "min_stay_days": 42,
        "max_stay_days": 182,
        "default_stay_days": 84,
        "sessions_per_week_min": 3,
        "sessions_per_week_max": 5,
        "session_hours_min": 3,
        "session_hours_max": 4,
        "weekly_hours_min": 9,
        "weekly_hours_max": None,
    },
    Level.OUTPATIENT: {
        "min_stay_days": None,
        "max_stay_days": None,
        "default_stay_days": 180,
        "sessions_per_week_min": 1,
        "sessions_per_week_max": 2,
        "session_hours_min": 1,
        "session_hours_max": 2,
        "weekly_hours_min": None,
        "weekly_hours_max": 9,
    },
}


def default_reminder_offsets() -> list[int]:
    return [24 * 60, 2 * 60]


def default_follow_up_days() -> list[int]:
    return [2, 7, 30]


def _ordered(low: str, high: str, name: str, message: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{low}__isnull": True})
        | Q(**{f"{high}__isnull": True})
        | Q(**{f"{low}__lte": F(high)}),
        name=name,
        violation_error_message=message,
    )


class Program(models.Model):
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="programs")
    name = models.CharField(max_length=200)
    level = models.CharField(max_length=12, choices=Level.choices)
    track = models.CharField(max_length=8, choices=Track.choices, blank=True)
    capacity = models.PositiveIntegerField(help_text="Beds for residential, seats otherwise.")
    min_stay_days = models.PositiveIntegerField(null=True, blank=True)
    max_stay_days = models.PositiveIntegerField(null=True, blank=True)
    default_stay_days = models.PositiveIntegerField(
        help_text="Planned stay of a new enrollment (its planned end date)."
    )
    sessions_per_week_min = models.PositiveSmallIntegerField(null=True, blank=True)
    sessions_per_week_max = models.PositiveSmallIntegerField(null=True, blank=True)
    session_hours_min = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    session_hours_max = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    weekly_hours_min = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Hours a week a patient should attend (IOP: 9 for adults, 6 for adolescents).",
    )
    weekly_hours_max = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Hours a week below which the program stays (outpatient: fewer than 9).",
    )
    services = ArrayField(
        models.CharField(max_length=24, choices=ProgramService.choices), default=list, blank=True
    )
    beds = models.ManyToManyField("clinic.Bed", blank=True, related_name="programs")
    reminder_offsets_minutes = ArrayField(
        models.PositiveIntegerField(),
        default=default_reminder_offsets,
        blank=True,
        help_text="When patients are reminded of a session, in minutes before it starts "
        "(default 24 hours and 2 hours).",
    )
    waitlist_offer_hours = models.PositiveIntegerField(
        default=48, help_text="How long a freed place is held for the offered patient."
    )
    admission_hold_grace_days = models.PositiveSmallIntegerField(
        default=1,
        help_text="Days past a scheduled admission date that its held place waits for the "
        "patient before it lapses and goes to the waitlist.",
    )
    follow_up_days = ArrayField(
        models.PositiveSmallIntegerField(),
        default=default_follow_up_days,
        blank=True,
        help_text="Days after a discharge from this program (residential, PHP or withdrawal "
        "management) that a follow-up call is due (default 2, 7 and 30).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["clinic", "level", "name"]
        constraints = [
            # What a session's or series' (program, clinic) refers to: the database keeps a
            # program's sessions and series in the program's clinic (scheduling 0011).
            models.UniqueConstraint(fields=["id", "clinic"], name="program_id_clinic"),
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="program_name_unique_per_clinic",
                violation_error_code="program_name_taken",
                violation_error_message="This clinic already has a program with this name.",
            ),
            models.CheckConstraint(
                condition=Q(capacity__gt=0),
                name="program_capacity_positive",
                violation_error_message="Capacity must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(default_stay_days__gt=0),
                name="program_default_stay_positive",
                violation_error_message="The planned stay must be at least one day.",
            ),
            _ordered(
                "min_stay_days",
                "max_stay_days",
                "program_stay_bounds_ordered",
                "The minimum stay cannot exceed the maximum stay.",
            ),
            _ordered(
                "min_stay_days",
                "default_stay_days",
                "program_default_stay_above_min",
                "The planned stay cannot be shorter than the minimum stay.",
            ),
            _ordered(
                "default_stay_days",
                "max_stay_days",
                "program_default_stay_below_max",
                "The planned stay cannot be longer than the maximum stay.",
            ),
            _ordered(
                "sessions_per_week_min",
                "sessions_per_week_max",
                "program_cadence_ordered",
                "The minimum sessions a week cannot exceed the maximum.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(sessions_per_week_min__isnull=True) | Q(sessions_per_week_min__range=(1, 7))
                )
                & (Q(sessions_per_week_max__isnull=True) | Q(sessions_per_week_max__range=(1, 7))),
                name="program_cadence_within_a_week",
                violation_error_message="Sessions a week must be between 1 and 7.",
            ),
            _ordered(
                "session_hours_min",
                "session_hours_max",
                "program_session_hours_ordered",
                "The minimum session length cannot exceed the maximum.",
            ),
            models.CheckConstraint(
                condition=(Q(session_hours_min__isnull=True) | Q(session_hours_min__gt=0))
                & (Q(session_hours_max__isnull=True) | Q(session_hours_max__lte=24)),
                name="program_session_hours_sane",
                violation_error_message="Session lengths are between 0 and 24 hours.",
            ),
            _ordered(
                "weekly_hours_min",
                "weekly_hours_max",
                "program_weekly_hours_ordered",
                "The minimum weekly hours cannot exceed the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(track="") | Q(level__in=[Level.IOP, Level.PHP]),
                name="program_track_only_for_day_programs",
                violation_error_message="Only IOP and PHP programs have a day or evening track.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def intensity(self) -> int:
        return LEVEL_INTENSITY[self.level]

    @property
    def is_high_intensity(self) -> bool:
        """Residential, partial hospitalization or withdrawal management: a discharge from here
        is followed up (tasks, the continuity measure; ``high_intensity_q`` in queries)."""
        return self.level in HIGH_INTENSITY_LEVELS or ProgramService.DETOX in self.services

    @staticmethod
    def high_intensity_q(prefix: str = "") -> Q:
        return Q(**{f"{prefix}level__in": HIGH_INTENSITY_LEVELS}) | Q(
            **{f"{prefix}services__contains": [ProgramService.DETOX]}
        )


class EnrollmentStatus(models.TextChoices):
    WAITLISTED = "waitlisted", "Waitlisted"
    ADMITTED = "admitted", "Admitted"
    DISCHARGED = "discharged", "Discharged"
    CANCELLED = "cancelled", "Cancelled"


class DischargeReason(models.TextChoices):
    COMPLETED = "completed", "Completed"
    TRANSFERRED = "transferred", "Transferred to another level or program"
    AMA = "ama", "Left against medical advice"
    ADMINISTRATIVE = "administrative", "Administrative discharge"
    REFERRED = "referred", "Referred out"


OCCUPYING = [EnrollmentStatus.ADMITTED, EnrollmentStatus.DISCHARGED]


class Enrollment(models.Model):
    """A patient's place in a program: ``waitlisted → admitted → discharged``, or
    ``waitlisted → cancelled``. A database trigger refuses any other change of status."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="enrollments"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    # The program's level, copied so the one-residential-stay constraint needs no join.
    level = models.CharField(max_length=12, choices=Level.choices, editable=False)
    status = models.CharField(max_length=12, choices=EnrollmentStatus.choices)
    start_date = models.DateField(help_text="Admission date (requested date while waitlisted).")
    # Kept when an admission from the waitlist moves start_date to the admission date.
    requested_start_date = models.DateField(
        editable=False, help_text="The start date asked for when the enrollment was created."
    )
    planned_end_date = models.DateField()
    discharge_date = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(max_length=16, choices=DischargeReason.choices, blank=True)
    primary_clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    assessment = models.ForeignKey(
        "patients.Assessment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrollments",
    )
    # Waitlist: higher priority first, then earlier requests; a patient whose offer lapsed
    # goes behind those not yet passed over.
    priority = models.SmallIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now, db_default=Now())
    passed_over = models.BooleanField(default=False)
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [
            models.Index(fields=["program", "status", "start_date"], name="enrollment_program"),
            # The census reads discharged stays by the range they end in.
            models.Index(
                fields=["program", "status", "discharge_date"], name="enrollment_program_discharge"
            ),
            models.Index(fields=["patient", "-start_date"], name="enrollment_patient"),
            # The step-down board cuts its page of active stays by start date (days in program).
            models.Index(
                fields=["start_date"],
                condition=Q(status="admitted"),
                name="enrollment_admitted_start",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EnrollmentStatus.values),
                name="enrollment_status_known",
                violation_error_message="Unknown enrollment status.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=EnrollmentStatus.DISCHARGED)
                    & Q(discharge_date__isnull=False)
                    & ~Q(discharge_reason="")
                )
                | (
                    ~Q(status=EnrollmentStatus.DISCHARGED)
                    & Q(discharge_date__isnull=True)
                    & Q(discharge_reason="")
                ),
                name="enrollment_discharge_iff_discharged",
                violation_error_message="A discharge date and reason are set exactly when the "
                "enrollment is discharged.",
            ),
            models.CheckConstraint(
                condition=Q(planned_end_date__gte=F("start_date")),
                name="enrollment_planned_end_after_start",
                violation_error_message="The planned end cannot be before the start.",
            ),
            models.CheckConstraint(
                condition=Q(discharge_date__isnull=True) | Q(discharge_date__gte=F("start_date")),
                name="enrollment_discharge_after_start",
                violation_error_message="A discharge cannot be before the admission.",
            ),
            models.CheckConstraint(
                condition=Q(offer_expires_at__isnull=True) | Q(offered_at__isnull=False),
                name="enrollment_offer_complete",
                violation_error_message="An offer has a start and an expiry.",
            ),
            models.UniqueConstraint(
                fields=["patient", "program"],
                condition=Q(status=EnrollmentStatus.WAITLISTED),
                name="enrollment_one_waitlist_entry",
                violation_error_code="already_waitlisted",
                violation_error_message="The patient is already on this program's waitlist.",
            ),
            ExclusionConstraint(
                name="enrollment_no_overlap_in_program",
                expressions=[
                    ("patient", RangeOperators.EQUAL),
                    ("program", RangeOperators.EQUAL),
                    (DateRange("start_date", "discharge_date"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=OCCUPYING),
                violation_error_code="overlapping_enrollment",
                violation_error_message="The patient is already enrolled in this program on "
                "these dates.",
            ),
            ExclusionConstraint(
                name="enrollment_one_residential_stay",
                expressions=[
                    ("patient", RangeOperators.EQUAL),
                    (DateRange("start_date", "discharge_date"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=OCCUPYING, level=Level.RESIDENTIAL),
                violation_error_code="overlapping_residential_stay",
                violation_error_message="The patient already has a residential stay on these "
                "dates.",
            ),
        ]

    def __str__(self):
        return f"{self.patient} in {self.program} ({self.status})"

    def is_active_on(self, day: datetime.date) -> bool:
        return (
            self.status in OCCUPYING
            and self.start_date <= day
            and (self.discharge_date is None or day < self.discharge_date)
        )


class OfferOutcome(models.TextChoices):
    OPEN = "open", "Open (the place is held)"
    ACCEPTED = "accepted", "Accepted (admitted)"
    LAPSED = "lapsed", "Lapsed (not taken up in time)"
    WITHDRAWN = "withdrawn", "Withdrawn (the patient left the waitlist)"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (no channel, or the offer closed first): admissions call"
    UNKNOWN = "unknown", "Outcome unknown (cut off mid-send; never resent)"


class WaitlistOffer(models.Model):
    """A freed place offered to a waitlisted patient, held until ``expires_at``, and the notice
    telling the patient (an outbox row: claimed before the provider is called, sent at most
    once). ``Enrollment.offered_at``/``offer_expires_at`` mirror the enrollment's latest offer
    (while it is open) for the readers that need no join."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.PROTECT, related_name="offers")
    # The enrollment's patient: a composite foreign key holds that they agree (migration 0010).
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="waitlist_offers"
    )
    offered_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    outcome = models.CharField(
        max_length=10, choices=OfferOutcome.choices, default=OfferOutcome.OPEN
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # The patient's notice. The channel is the patient's consented one at offer time (e-mail
    # before SMS; blank: none, so the notice is skipped and admissions call).
    channel = models.CharField(max_length=8, choices=ReminderChannel.choices, blank=True)
    notice_status = models.CharField(
        max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    notice_due_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-offered_at", "-id"]
        indexes = [
            models.Index(
                fields=["notice_status", "notice_due_at"],
                name="waitlist_offer_notice_due",
                condition=Q(notice_status__in=["pending", "sending"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gte=F("offered_at")),
                name="waitlist_offer_expires_after_offer",
                violation_error_message="An offer cannot expire before it is made.",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=OfferOutcome.values),
                name="waitlist_offer_outcome_known",
                violation_error_message="Unknown offer outcome.",
            ),
            models.CheckConstraint(
                condition=Q(notice_status__in=NoticeStatus.values),
                name="waitlist_offer_notice_status_known",
                violation_error_message="Unknown notice status.",
            ),
            models.CheckConstraint(
                condition=Q(outcome=OfferOutcome.OPEN, closed_at__isnull=True)
                | (~Q(outcome=OfferOutcome.OPEN) & Q(closed_at__isnull=False)),
                name="waitlist_offer_closed_iff_not_open",
                violation_error_message="An offer has a closing time exactly when it is closed.",
            ),
            # One place held per waitlist entry at a time.
            models.UniqueConstraint(
                fields=["enrollment"],
                condition=Q(outcome=OfferOutcome.OPEN),
                name="waitlist_offer_one_open_per_enrollment",
                violation_error_code="offer_open",
                violation_error_message="This patient already holds an open offer.",
            ),
        ]

    def __str__(self):
        return f"Offer of {self.offered_at:%Y-%m-%d %H:%M} ({self.outcome})"

    def is_live(self, now: datetime.datetime) -> bool:
        return self.outcome == OfferOutcome.OPEN and self.expires_at > now


class EnrollmentStatusChange(models.Model):
    """One change of an enrollment's status (or its creation, ``from_status`` blank), appended
    by the service that makes the change, in its transaction. The database refuses UPDATE and
    DELETE of these rows and holds that each row is a move of the state machine (migration
    0011)."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="status_changes"
    )
    # The enrollment's patient: a composite foreign key holds that it is (as on Transition), so
    # a patient's history reads without a join.
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    from_status = models.CharField(
        max_length=12, choices=EnrollmentStatus.choices, blank=True, editable=False
    )
    to_status = models.CharField(max_length=12, choices=EnrollmentStatus.choices, editable=False)
    effective_date = models.DateField(
        editable=False,
        help_text="When the change takes effect in the clinic: the start date of an admission, "
        "the discharge date of a discharge, the clinic's date of a waitlisting or cancellation.",
    )
    changed_at = models.DateTimeField(editable=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="Empty for a change the system made, or one backfilled without its author.",
    )
    reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["changed_at", "id"]
        constraints = [
            # The moves the enrollment state machine allows (migration 0002), and its creation.
            models.CheckConstraint(
                condition=Q(
                    from_status="",
                    to_status__in=[EnrollmentStatus.WAITLISTED, EnrollmentStatus.ADMITTED],
                )
                | Q(
                    from_status=EnrollmentStatus.WAITLISTED,
                    to_status__in=[EnrollmentStatus.ADMITTED, EnrollmentStatus.CANCELLED],
                )
                | Q(from_status=EnrollmentStatus.ADMITTED, to_status=EnrollmentStatus.DISCHARGED),
                name="enrollment_status_change_follows_state_machine",
                violation_error_message="An enrollment's status change follows its state machine.",
            ),
            # The state machine has no loop: each status is reached at most once.
            models.UniqueConstraint(
                fields=["enrollment", "to_status"],
                name="enrollment_status_change_once",
                violation_error_message="This enrollment reached this status already.",
            ),
        ]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status} on {self.effective_date}"


class BedAssignment(models.Model):
    """Who sleeps in which bed, when: one patient per bed at a time, one bed per stay at a
    time (exclusion constraints)."""

    bed = models.ForeignKey("clinic.Bed", on_delete=models.PROTECT, related_name="assignments")
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="bed_assignments"
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="bed_assignment_dates_ordered",
                violation_error_message="A bed assignment cannot end before it starts.",
            ),
            ExclusionConstraint(
                name="bed_holds_one_patient",
                expressions=[
                    ("bed", RangeOperators.EQUAL),
                    (DateRange("start_date", "end_date"), RangeOperators.OVERLAPS),
                ],
                violation_error_code="bed_taken",
                violation_error_message="This bed is taken on these dates.",
            ),
            ExclusionConstraint(
                name="bed_one_per_stay",
                expressions=[
                    ("enrollment", RangeOperators.EQUAL),
                    (DateRange("start_date", "end_date"), RangeOperators.OVERLAPS),
                ],
                violation_error_code="already_has_bed",
                violation_error_message="The patient already has a bed on these dates.",
            ),
        ]

    def __str__(self):
        return f"{self.bed} from {self.start_date}"


class TransitionKind(models.TextChoices):
    STEP_DOWN = "step_down", "Step-down"
    STEP_UP = "step_up", "Step-up"
    LATERAL = "lateral", "Lateral"


class Transition(models.Model):
    """A move between programs: the source discharged as ``transferred`` and the target admitted
    on the same date, in one transaction."""

    kind = models.CharField(max_length=10, choices=TransitionKind.choices)
    # Both enrollments' patient (and the assessment's): composite foreign keys hold that the two
    # enrollments and the assessment are this one patient's (migration 0008).
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="transitions"
    )
    from_enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, related_name="transition_out"
    )
    to_enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, related_name="transition_in"
    )
    date = models.DateField()
    reason = models.TextField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assessment = models.ForeignKey(
        "patients.Assessment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transitions",
        help_text="The reassessment the move followed.",
    )
    # Continuity of care: days from the move to the first attended session at the new level
    # (recorded by the scheduling side once the patient attends; > 7 is flagged).
    first_session_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    CONTINUITY_TARGET_DAYS = 7

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_enrollment=F("to_enrollment")),
                name="transition_between_two_enrollments",
                violation_error_message="A transition goes from one enrollment to another.",
            ),
            models.CheckConstraint(
                condition=Q(first_session_on__isnull=True) | Q(first_session_on__gte=F("date")),
                name="transition_first_session_after_move",
                violation_error_message="The first session at the new level is after the move.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.date}"

    @property
    def gap_days(self) -> int | None:
        if self.first_session_on is None:
            return None
        return (self.first_session_on - self.date).days

    @classmethod
    def gap_open_q(cls, today) -> Q:
        """No session attended yet, and the move more than the target ago (``today``: a date or
        an expression giving the clinic's date)."""
        return Q(
            first_session_on__isnull=True,
            date__lt=today - datetime.timedelta(days=cls.CONTINUITY_TARGET_DAYS),
        )

    def gap_flagged(self, today: datetime.date) -> bool:
        """Past the continuity target: a late first session, or none yet after 7 days."""
        if self.first_session_on is not None:
            return self.gap_days > self.CONTINUITY_TARGET_DAYS
        return (today - self.date).days > self.CONTINUITY_TARGET_DAYS


# Aftercare ----------------------------------------------------------------------------------------


class AftercarePlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft (discharge planning)"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class AftercarePlan(models.Model):
    """The plan a patient leaves with, built during discharge planning (FHIR CarePlan)."""

    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, related_name="aftercare_plan"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="aftercare_plans"
    )
    status = models.CharField(
        max_length=8, choices=AftercarePlanStatus.choices, default=AftercarePlanStatus.DRAFT
    )
    review_date = models.DateField(null=True, blank=True)
    medication_continuation = models.TextField(blank=True)
    sober_living = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Aftercare plan of {self.patient}"


class AftercareItemKind(models.TextChoices):
    TRIGGER = "trigger", "Relapse trigger"
    COPING_SKILL = "coping_skill", "Coping skill"
    SUPPORT_GROUP = "support_group", "Support group"
    FOLLOW_UP = "follow_up", "Follow-up appointment"
    EMERGENCY_CONTACT = "emergency_contact", "Emergency contact"


class AftercareItem(models.Model):
    plan = models.ForeignKey(AftercarePlan, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=20, choices=AftercareItemKind.choices)
    text = models.TextField()
    scheduled_for = models.DateTimeField(
        null=True, blank=True, help_text="When, for a follow-up appointment."
    )

    class Meta:
        ordering = ["kind", "id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.text[:40]}"


class GoalStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    ACHIEVED = "achieved", "Achieved"
    DROPPED = "dropped", "Dropped"


class AftercareGoal(models.Model):
    plan = models.ForeignKey(AftercarePlan, on_delete=models.CASCADE, related_name="goals")
    description = models.TextField()
    status = models.CharField(max_length=12, choices=GoalStatus.choices, default=GoalStatus.OPEN)
    target_date = models.DateField(null=True, blank=True)
    version = record_version_field()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.description[:60]


class CheckIn(models.Model):
    """A patient's report between visits: cravings, mood, use."""

    RISKY_CRAVING = 8

    plan = models.ForeignKey(AftercarePlan, on_delete=models.PROTECT, related_name="check_ins")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="check_ins"
    )
    craving = models.PositiveSmallIntegerField(help_text="0 (none) to 10 (overwhelming).")
    mood = models.PositiveSmallIntegerField(help_text="1 (very low) to 5 (very good).")
    used_substance = models.BooleanField()
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The patient's own account, or staff on their behalf.",
    )
    recorded_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    # The staff alert a risky check-in raised or was attached to (clinic.services.alert_raise).
    alert = models.ForeignKey(
        "clinic.StaffAlert",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(craving__lte=10),
                name="checkin_craving_0_to_10",
                violation_error_message="Craving is rated 0 to 10.",
            ),
            models.CheckConstraint(
                condition=Q(mood__range=(1, 5)),
                name="checkin_mood_1_to_5",
                violation_error_message="Mood is rated 1 to 5.",
            ),
        ]

    def __str__(self):
        return f"Check-in of {self.recorded_at:%Y-%m-%d}"

    @property
    def is_risky(self) -> bool:
        return self.used_substance or self.craving >= self.RISKY_CRAVING


# After discharge (issue 25) -----------------------------------------------------------------------


class DischargeSummary(models.Model):
    """The record a patient leaves with, made in the discharge's transaction (not for a
    transition, which continues the episode). The facts of the episode are copied in at
    discharge (a later edit elsewhere never rewrites a past summary); the clinician completes
    the free text and signs. Once signed a trigger refuses any change (corrections are signed
    addenda), and no summary is ever deleted."""

    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, related_name="discharge_summary"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="discharge_summaries"
    )
    # The episode: the first enrollment of the chain of transitions that ends here.
    episode_start_date = models.DateField()
    discharge_date = models.DateField()
    discharge_reason = models.CharField(max_length=16, choices=DischargeReason.choices)
    # [{"program", "level", "start_date", "end_date", "transition"}], oldest first.
    levels_of_care = models.JSONField(default=list)
    # {"scheduled", "present", "late", "absent", "excused", "attendance_rate"} over the episode.
    attendance = models.JSONField(default=dict)
    last_assessment = models.ForeignKey(
        "patients.Assessment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recommendation = models.TextField(blank=True)
    aftercare_plan = models.ForeignKey(
        AftercarePlan, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # [{"text", "scheduled_for"}]: the plan's follow-up appointments when the patient left.
    follow_up_appointments = models.JSONField(default=list)
    # The clinician's part; ``staff_notes`` never reaches the patient's copy.
    course_of_treatment = models.TextField(blank=True)
    condition_at_discharge = models.TextField(blank=True)
    instructions = models.TextField(
        blank=True, help_text="What the patient should do next, in words for the patient."
    )
    staff_notes = models.TextField(
        blank=True, help_text="For staff only: not in the patient's copy."
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["-discharge_date", "-id"]
        verbose_name_plural = "discharge summaries"
        constraints = [
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True, signed_by__isnull=True)
                | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="dischargesummary_signature_complete",
                violation_error_message="A signature names its signer and its time.",
            ),
            models.CheckConstraint(
                condition=Q(discharge_date__gte=F("episode_start_date")),
                name="dischargesummary_dates_ordered",
                violation_error_message="The discharge cannot be before the episode's start.",
            ),
        ]

    def __str__(self):
        return f"Discharge summary of {self.discharge_date:%Y-%m-%d}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class DischargeSummaryAddendum(models.Model):
    """A signed correction or addition to a signed summary. Append-only (a trigger)."""

    summary = models.ForeignKey(DischargeSummary, on_delete=models.PROTECT, related_name="addenda")
    text = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["signed_at", "id"]
        verbose_name_plural = "discharge summary addenda"
        constraints = [
            models.CheckConstraint(
                condition=~Q(text=""),
                name="dischargesummaryaddendum_text_not_blank",
                violation_error_message="An addendum needs its text.",
            ),
        ]

    def __str__(self):
        return f"Addendum of {self.signed_at:%Y-%m-%d}"


class FollowUpOutcome(models.TextChoices):
    REACHED_WELL = "reached_well", "Reached, doing well"
    REACHED_STRUGGLING = "reached_struggling", "Reached, struggling"
    SEEN_ELSEWHERE = "seen_elsewhere", "Seen by another provider"
    READMITTED = "readmitted", "Readmitted"
    NOT_REACHED = "not_reached", "Not reached"
    DECLINED = "declined", "Declined follow-up"
    DECEASED = "deceased", "Deceased"


class ContactMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    SMS = "sms", "Text message"
    EMAIL = "email", "E-mail"
    IN_PERSON = "in_person", "In person"


class FollowUpTask(models.Model):
    """A call due some days after a discharge from high-intensity care (the program's
    ``follow_up_days``), made once per discharge and day in the discharge's transaction. Open
    until its outcome is recorded; overdue open tasks alert once (``FOLLOW_UP_OVERDUE``)."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="follow_up_tasks"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="follow_up_tasks"
    )
    days_after_discharge = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    # A named person (the primary clinician) or everyone of a role at the clinic.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assignee_role = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=20, choices=FollowUpOutcome.choices, blank=True)
    # The outside visit's date when the outcome is "seen by another provider" (the continuity
    # measure counts it as a follow-up visit on that date).
    seen_elsewhere_on = models.DateField(null=True, blank=True)
    outcome_note = models.TextField(blank=True)
    # A risk check-in taken on the call (it alerts the care team as the patient's own would).
    check_in = models.ForeignKey(
        CheckIn, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    version = record_version_field()

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            # The open queue, by due date.
            models.Index(
                fields=["due_date"],
                condition=Q(completed_at__isnull=True),
                name="followuptask_open_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "days_after_discharge"],
                name="followuptask_once_per_discharge_and_day",
                violation_error_code="follow_up_task_exists",
                violation_error_message="This discharge already has a follow-up on that day.",
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=False) | ~Q(assignee_role=""),
                name="followuptask_assigned",
                violation_error_message="A follow-up goes to a person or a role.",
            ),
            models.CheckConstraint(
                condition=Q(outcome="", completed_at__isnull=True, completed_by__isnull=True)
                | (~Q(outcome="") & Q(completed_at__isnull=False, completed_by__isnull=False)),
                name="followuptask_outcome_iff_completed",
                violation_error_message="A follow-up is completed exactly when its outcome is "
                "recorded.",
            ),
            models.CheckConstraint(
                condition=Q(outcome=FollowUpOutcome.SEEN_ELSEWHERE, seen_elsewhere_on__isnull=False)
                | (~Q(outcome=FollowUpOutcome.SEEN_ELSEWHERE) & Q(seen_elsewhere_on__isnull=True)),
                name="followuptask_seen_elsewhere_dated",
                violation_error_message="The date of the visit elsewhere is given exactly when "
                "the patient was seen by another provider.",
            ),
        ]

    def __str__(self):
        return f"Follow-up at {self.days_after_discharge} days (due {self.due_date:%Y-%m-%d})"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None


class FollowUpAttempt(models.Model):
    """One try at reaching the patient for a follow-up."""

    task = models.ForeignKey(FollowUpTask, on_delete=models.PROTECT, related_name="attempts")
    method = models.CharField(max_length=10, choices=ContactMethod.choices)
    reached = models.BooleanField()
    note = models.TextField(blank=True)
    attempted_at = models.DateTimeField(default=timezone.now, db_default=Now())
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self):
        return f"{self.get_method_display()} at {self.attempted_at:%Y-%m-%d %H:%M}"


# Progress notes (issue 26) ------------------------------------------------------------------------


class ProgressNoteFormat(models.TextChoices):
    """A note's sections: a group attendee's individual part, an individual session's DAP or
    SOAP note (the clinic's ``note_format``), or a short absence note."""

    GROUP = "group", "Group attendee note"
    DAP = "dap", "DAP"
    SOAP = "soap", "SOAP"
    ABSENCE = "absence", "Absence note"


# The sections each format holds (``ProgressNote.sections``' keys), in reading order.
NOTE_SECTIONS = {
    ProgressNoteFormat.GROUP: ("participation", "response", "progress", "plan"),
    ProgressNoteFormat.DAP: ("data", "assessment", "plan"),
    ProgressNoteFormat.SOAP: ("subjective", "objective", "assessment", "plan"),
    ProgressNoteFormat.ABSENCE: ("note",),
}


class ProgressNoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_COSIGNATURE = "awaiting_cosignature", "Awaiting co-signature"
    SIGNED = "signed", "Signed"


# A note's status, defined once: the first status whose columns all match, else signed (signed,
# and co-signed where it had to be). ``ProgressNote.status``, ``progress_note_status_expr``,
# ``progress_note_status_q``, ``NOTE_DUE_Q`` and the notes-due index all derive from it, so only
# ``field`` (equals) and ``field__isnull`` lookups: the Python side tests those on the row.
_NOTE_STATUS_RULES = (
    (ProgressNoteStatus.DRAFT, {"signed_at__isnull": True}),
    (
        ProgressNoteStatus.AWAITING_COSIGNATURE,
        {"cosignature_required": True, "cosigned_at__isnull": True},
    ),
)
_NOTE_STATUS_OTHERWISE = ProgressNoteStatus.SIGNED

# Due (the author or a supervisor has to act): not signed for good, i.e. any status but the last.
NOTE_DUE_STATUSES = tuple(status.value for status, _lookups in _NOTE_STATUS_RULES)
NOTE_DUE_Q = functools.reduce(
    operator.or_, (Q(**lookups) for _status, lookups in _NOTE_STATUS_RULES)
)


def _row_matches(note, lookups: dict) -> bool:
    for lookup, expected in lookups.items():
        field, _, transform = lookup.partition("__")
        value = getattr(note, field)
        if transform == "isnull":
            if (value is None) != expected:
                return False
        elif transform:
            raise ValueError(f"A note status rule may not use {lookup!r}.")
        elif value != expected:
            return False
    return True


def progress_note_status_expr() -> models.Case:
    """``ProgressNote.status`` in SQL, over a ``ProgressNote`` row."""
    return models.Case(
        *(
            models.When(Q(**lookups), then=models.Value(status.value))
            for status, lookups in _NOTE_STATUS_RULES
        ),
        default=models.Value(_NOTE_STATUS_OTHERWISE.value),
    )


def progress_note_status_q(status: str) -> Q:
    """The notes in ``status``: its rule matches and no earlier one does."""
    status = ProgressNoteStatus(status)
    condition = Q()
    for rule_status, lookups in _NOTE_STATUS_RULES:
        if rule_status == status:
            return condition & Q(**lookups)
        condition &= ~Q(**lookups)
    return condition


class GroupNote(models.Model):
    """The group part of a session's notes, written once by the facilitator: what the group did,
    never who was there (a check refuses a rostered patient's name). Each attendee's progress
    note shows it beside their own part; once one of them is signed a trigger refuses changes
    (corrections go in each note's addenda)."""

    session = models.OneToOneField(
        "scheduling.Session", on_delete=models.PROTECT, related_name="group_note"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=200)
    interventions = models.TextField(help_text="Interventions used (CBT, MI, psychoeducation…).")
    group_dynamics = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Group note: {self.topic}"


class ProgressNote(models.Model):
    """One patient's note of one session: a draft until its author signs it; then a trigger
    refuses any change but a supervisor's co-signature (when the author's membership requires
    one), and corrections are signed addenda. Late: unsigned past the session's end plus the
    clinic's ``note_late_hours`` (computed, never stored)."""

    session = models.ForeignKey(
        "scheduling.Session", on_delete=models.PROTECT, related_name="progress_notes"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="progress_notes"
    )
    attendance = models.OneToOneField(
        "scheduling.Attendance",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="progress_note",
    )
    group_note = models.ForeignKey(
        GroupNote, on_delete=models.PROTECT, null=True, blank=True, related_name="notes"
    )
    format = models.CharField(max_length=8, choices=ProgressNoteFormat.choices)
    # {section: text} for the format's NOTE_SECTIONS.
    sections = models.JSONField(default=dict)
    # Psychotherapy notes kept apart from the record: disclosed only under a consent naming
    # that category on its own (the 2024 Part 2 rule).
    psychotherapy_note = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    # Copied from the author's clinic membership when they sign.
    cosignature_required = models.BooleanField(default=False)
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["-session__starts_at", "id"]
        indexes = [
            # The notes-due list: a clinician's unsigned notes and those awaiting co-signature.
            models.Index(
                fields=["author"],
                condition=NOTE_DUE_Q,
                name="progressnote_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient"],
                name="progressnote_once_per_session_patient",
                violation_error_code="note_exists",
                violation_error_message="This patient already has a note of this session.",
            ),
            models.CheckConstraint(
                condition=Q(format__in=ProgressNoteFormat.values),
                name="progressnote_format_known",
                violation_error_message="Unknown note format.",
            ),
            models.CheckConstraint(
                condition=Q(format=ProgressNoteFormat.GROUP, group_note__isnull=False)
                | (~Q(format=ProgressNoteFormat.GROUP) & Q(group_note__isnull=True)),
                name="progressnote_group_part_iff_group_format",
                violation_error_message="A group attendee's note, and only it, has a group part.",
            ),
            models.CheckConstraint(
                condition=Q(cosigned_at__isnull=True, cosigned_by__isnull=True)
                | Q(
                    cosigned_at__isnull=False,
                    cosigned_by__isnull=False,
                    cosignature_required=True,
                    signed_at__isnull=False,
                ),
                name="progressnote_cosigned_after_signing",
                violation_error_message="Only a signed note that needs a co-signature is "
                "co-signed, by someone at some time.",
            ),
            models.CheckConstraint(
                condition=~Q(psychotherapy_note=True)
                | Q(format__in=[ProgressNoteFormat.DAP, ProgressNoteFormat.SOAP]),
                name="progressnote_psychotherapy_only_individual",
                violation_error_message="Only an individual session's note is a psychotherapy "
                "note.",
            ),
        ]

    def __str__(self):
        return f"Progress note #{self.pk}"

    @property
    def status(self) -> ProgressNoteStatus:
        return next(
            (status for status, lookups in _NOTE_STATUS_RULES if _row_matches(self, lookups)),
            _NOTE_STATUS_OTHERWISE,
        )

    @property
    def is_signed(self) -> bool:
        return self.status != ProgressNoteStatus.DRAFT

    @property
    def awaiting_cosignature(self) -> bool:
        return self.status == ProgressNoteStatus.AWAITING_COSIGNATURE


class ProgressNoteAddendum(models.Model):
    """A signed correction or addition to a signed note. Append-only (a trigger)."""

    note = models.ForeignKey(ProgressNote, on_delete=models.PROTECT, related_name="addenda")
    text = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["signed_at", "id"]
        verbose_name_plural = "progress note addenda"
        constraints = [
            models.CheckConstraint(
                condition=~Q(text=""),
                name="progressnoteaddendum_text_not_blank",
                violation_error_message="An addendum needs its text.",
            ),
        ]

    def __str__(self):
        return f"Addendum of {self.signed_at:%Y-%m-%d}"


# Disclosures --------------------------------------------------------------------------------------


class Disclosure(models.Model):
    """A disclosure of the patient's records outside the clinic (42 CFR Part 2), as the
    accounting of §2.25 needs it: when, to whom and where, what, why, under which consent, by
    whom. Written only by ``disclosure_create`` once a consent covers it; the database refuses
    UPDATE and DELETE (migration 0015), as for the audit trail. ``bundle`` is the FHIR document
    as it was sent: the download returns it, never a rebuild from records changed since."""

    # The document's identity (its Bundle identifier and the resources' urn:uuid ids), known
    # before the row is written, so the bundle is built and stored in the same INSERT.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    bundle = models.JSONField(editable=False)

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="disclosures", editable=False
    )
    consent = models.ForeignKey(
        "patients.Consent", on_delete=models.PROTECT, related_name="disclosures", editable=False
    )
    recipient_name = models.CharField(max_length=200, editable=False)
    recipient_address = models.TextField(blank=True, editable=False)
    purpose = models.CharField(max_length=16, choices=DisclosurePurpose.choices, editable=False)
    purpose_other = models.TextField(blank=True, editable=False)
    categories = ArrayField(
        models.CharField(max_length=24, choices=DisclosureCategory.choices), editable=False
    )
    description = models.TextField(
        editable=False, help_text="What was sent, e.g. 'FHIR R4 Bundle: Patient, EpisodeOfCare'."
    )
    # The period of attendance sent (empty: the whole record).
    window_start = models.DateField(null=True, blank=True, editable=False)
    window_end = models.DateField(null=True, blank=True, editable=False)
    disclosed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    disclosed_at = models.DateTimeField(editable=False)
    # What prompted it: a step-down or a discharge hands the patient to the next provider.
    transition = models.ForeignKey(
        Transition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disclosures",
        editable=False,
    )
    enrollment = models.ForeignKey(
        Enrollment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disclosures",
        editable=False,
    )

    class Meta:
        ordering = ["-disclosed_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-disclosed_at"], name="disclosure_patient_newest"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(categories=[]) & Q(categories__contained_by=DisclosureCategory.values),
                name="disclosure_categories_known",
                violation_error_code="unknown_category",
                violation_error_message="A disclosure sends at least one known category.",
            ),
            models.CheckConstraint(
                condition=~Q(purpose=DisclosurePurpose.OTHER) | ~Q(purpose_other=""),
                name="disclosure_other_purpose_described",
                violation_error_code="purpose_other_missing",
                violation_error_message="Describe the other purpose.",
            ),
            models.CheckConstraint(
                condition=Q(window_start__isnull=True)
                | Q(window_end__isnull=True)
                | Q(window_end__gte=F("window_start")),
                name="disclosure_window_ordered",
                violation_error_message="The window ends after it starts.",
            ),
        ]

    def __str__(self):
        return f"Disclosure of {self.disclosed_at:%Y-%m-%d} to {self.recipient_name}"


# Utilization review -------------------------------------------------------------------------------


class InclusiveDateRange(Func):
    """``daterange(lower, upper, '[]')``: an authorization or coverage covers its end date too;
    a NULL upper bound is open-ended."""

    function = "daterange"
    output_field = DateRangeField()

    def __init__(self, lower, upper):
        super().__init__(lower, upper, models.Value("[]"))


class PayerKind(models.TextChoices):
    COMMERCIAL = "commercial", "Commercial"
    MEDICAID = "medicaid", "Medicaid"
    MEDICARE = "medicare", "Medicare"
    SELF_PAY = "self_pay", "Self-pay"
    OTHER = "other", "Other"


class Payer(models.Model):
    """Who pays for care at one clinic. A self-pay payer needs no authorization."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="payers")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=PayerKind.choices)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["clinic", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "clinic",
                name="payer_name_unique_per_clinic",
                violation_error_code="payer_name_taken",
                violation_error_message="This clinic already has a payer with this name.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PayerKind.values),
                name="payer_kind_known",
                violation_error_message="Unknown payer kind.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def needs_authorization(self) -> bool:
        return self.kind != PayerKind.SELF_PAY


class SubscriberRelation(models.TextChoices):
    SELF = "self", "Self"
    SPOUSE = "spouse", "Spouse"
    CHILD = "child", "Child"
    OTHER = "other", "Other"


class CoveragePriority(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class Coverage(models.Model):
    """A patient's cover by a payer of their clinic, from ``start_date`` through ``end_date``
    (open-ended while NULL). Composite foreign keys (migration 0016) hold that the payer and the
    patient are of the row's clinic."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="coverages"
    )
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    # The patient's clinic, copied so the database can hold that the payer is of it.
    clinic = models.ForeignKey(
        "clinic.Clinic", on_delete=models.PROTECT, related_name="+", editable=False
    )
    member_id = models.CharField(max_length=80, blank=True)
    group_number = models.CharField(max_length=80, blank=True)
    subscriber_relation = models.CharField(
        max_length=8, choices=SubscriberRelation.choices, default=SubscriberRelation.SELF
    )
    priority = models.CharField(
        max_length=10, choices=CoveragePriority.choices, default=CoveragePriority.PRIMARY
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["patient", "priority", "-start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="coverage_dates_ordered",
                violation_error_message="A coverage cannot end before it starts.",
            ),
            ExclusionConstraint(
                name="coverage_one_primary_at_a_time",
                expressions=[
                    ("patient", RangeOperators.EQUAL),
                    (InclusiveDateRange("start_date", "end_date"), RangeOperators.OVERLAPS),
                ],
                condition=Q(priority=CoveragePriority.PRIMARY),
                violation_error_code="overlapping_primary_coverage",
                violation_error_message="The patient already has a primary coverage on these "
                "dates.",
            ),
        ]

    def __str__(self):
        return f"{self.payer} ({self.get_priority_display()}) of {self.patient}"


class AuthorizationUnit(models.TextChoices):
    DAYS = "days", "Days"
    SESSIONS = "sessions", "Sessions"
    UNITS = "units", "Units"


class AuthorizationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"
    DENIED = "denied", "Denied"
    EXHAUSTED = "exhausted", "Exhausted"
    EXPIRED = "expired", "Expired"


# Levels whose care a payer counts in days (a bed or a full day); the others in sessions or units.
DAY_LEVELS = [Level.RESIDENTIAL, Level.PHP]
# An authorization in force: its approved units can be used.
AUTHORIZED = [AuthorizationStatus.APPROVED, AuthorizationStatus.PARTIALLY_APPROVED]
# Statuses that carry an approved number of units.
WITH_APPROVED_UNITS = [*AUTHORIZED, AuthorizationStatus.EXHAUSTED]
# Statuses with or without approved units: a denial, and an expiry (an approval's, or a request's
# that lapsed past its end unanswered).
EITHER_WAY_UNITS = [AuthorizationStatus.DENIED, AuthorizationStatus.EXPIRED]


class Authorization(models.Model):
    """A payer's authorization of care for one enrollment: ``requested → approved |
    partially_approved | denied``, then ``exhausted | expired``. ``authorized_level`` is the
    payer's, kept apart from the enrollment's clinical level (a payer may authorize IOP while
    the clinician keeps the patient in residential). Composite foreign keys (migration 0016)
    hold that the enrollment and the coverage are one patient's and ``payer`` the coverage's."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="authorizations"
    )
    coverage = models.ForeignKey(Coverage, on_delete=models.PROTECT, related_name="authorizations")
    # Copied from the coverage so the exclusion constraint and the composite keys need no join.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", editable=False
    )
    payer = models.ForeignKey(
        Payer, on_delete=models.PROTECT, related_name="authorizations", editable=False
    )
    number = models.CharField(max_length=80, blank=True, help_text="The payer's reference.")
    authorized_level = models.CharField(max_length=12, choices=Level.choices)
    unit = models.CharField(max_length=8, choices=AuthorizationUnit.choices)
    units_requested = models.PositiveIntegerField()
    units_approved = models.PositiveIntegerField(null=True, blank=True)
    # Payers now and then approve more than was asked; stating it is what lets the row say so.
    approved_exceeds_request = models.BooleanField(default=False)
    start_date = models.DateField()
    end_date = models.DateField(help_text="The last day the authorization covers.")
    status = models.CharField(
        max_length=20, choices=AuthorizationStatus.choices, default=AuthorizationStatus.REQUESTED
    )
    next_review_on = models.DateField(null=True, blank=True)
    reviewer_name = models.CharField(max_length=200, blank=True)
    reviewer_phone = models.CharField(max_length=40, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [
            models.Index(fields=["enrollment", "-start_date"], name="authorization_enrollment"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=AuthorizationStatus.values),
                name="authorization_status_known",
                violation_error_message="Unknown authorization status.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="authorization_dates_ordered",
                violation_error_message="An authorization cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(units_requested__gt=0),
                name="authorization_requests_units",
                violation_error_message="Request at least one unit.",
            ),
            models.CheckConstraint(
                condition=Q(units_approved__isnull=True)
                | Q(approved_exceeds_request=True)
                | Q(units_approved__lte=F("units_requested")),
                name="authorization_approved_within_request",
                violation_error_code="approved_exceeds_request",
                violation_error_message="More units approved than requested: state that the "
                "payer approved more than asked.",
            ),
            models.CheckConstraint(
                condition=(Q(status=AuthorizationStatus.REQUESTED) & Q(units_approved__isnull=True))
                | (Q(status__in=WITH_APPROVED_UNITS) & Q(units_approved__isnull=False))
                | Q(status__in=EITHER_WAY_UNITS),
                name="authorization_approved_units_iff_approved",
                violation_error_message="Approved units are set once the payer approves, and "
                "not before.",
            ),
            models.CheckConstraint(
                condition=(Q(unit=AuthorizationUnit.DAYS) & Q(authorized_level__in=DAY_LEVELS))
                | (
                    Q(unit__in=[AuthorizationUnit.SESSIONS, AuthorizationUnit.UNITS])
                    & ~Q(authorized_level__in=DAY_LEVELS)
                ),
                name="authorization_unit_fits_level",
                violation_error_code="unit_does_not_fit_level",
                violation_error_message="Residential and PHP are authorized in days, IOP and "
                "outpatient in sessions or units.",
            ),
            ExclusionConstraint(
                name="authorization_no_overlap_per_payer",
                expressions=[
                    ("enrollment", RangeOperators.EQUAL),
                    ("payer", RangeOperators.EQUAL),
                    (InclusiveDateRange("start_date", "end_date"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=AUTHORIZED),
                violation_error_code="overlapping_authorization",
                violation_error_message="This payer already authorized this enrollment on "
                "these dates.",
            ),
        ]

    def __str__(self):
        return f"{self.payer} {self.number or self.pk}: {self.get_status_display()}"


class ReviewKind(models.TextChoices):
    INITIAL = "initial", "Initial"
    CONCURRENT = "concurrent", "Concurrent"
    PEER_TO_PEER = "peer_to_peer", "Peer-to-peer"
    APPEAL = "appeal", "Appeal"
    EXPEDITED_APPEAL = "expedited_appeal", "Expedited appeal"


class ReviewOutcome(models.TextChoices):
    APPROVED_MORE = "approved_more", "Approved more units"
    DENIED = "denied", "Denied"
    PENDING_INFORMATION = "pending_information", "Pending information"


class ConcurrentReview(models.Model):
    """A review of an authorization with the payer; recording its outcome updates the
    authorization in the same transaction (``programs.services.authorizations.review_record``)."""

    authorization = models.ForeignKey(
        Authorization, on_delete=models.PROTECT, related_name="reviews"
    )
    kind = models.CharField(max_length=16, choices=ReviewKind.choices)
    scheduled_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)
    reviewer = models.CharField(max_length=200, blank=True, help_text="The payer's reviewer.")
    outcome = models.CharField(max_length=20, choices=ReviewOutcome.choices, blank=True)
    units_added = models.PositiveIntegerField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    # A denial may come with the payer's view of the right level, shown beside the clinician's.
    payer_recommended_level = models.CharField(max_length=12, choices=Level.choices, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["scheduled_on", "id"]
        indexes = [
            models.Index(
                fields=["scheduled_on"], condition=Q(done_on__isnull=True), name="review_open_due"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(done_on__isnull=True) & Q(outcome=""))
                | (Q(done_on__isnull=False) & ~Q(outcome="")),
                name="review_outcome_iff_done",
                violation_error_message="A review has an outcome exactly when it is done.",
            ),
            models.CheckConstraint(
                condition=(Q(outcome=ReviewOutcome.APPROVED_MORE) & Q(units_added__gt=0))
                | (~Q(outcome=ReviewOutcome.APPROVED_MORE) & Q(units_added__isnull=True)),
                name="review_units_added_iff_approved_more",
                violation_error_message="Units are added exactly when the payer approved more.",
            ),
            models.CheckConstraint(
                condition=Q(payer_recommended_level="") | Q(outcome=ReviewOutcome.DENIED),
                name="review_payer_level_only_on_denial",
                violation_error_message="The payer recommends a level only with a denial.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} review on {self.scheduled_on}"


# The admissions pipeline (issue 28) ---------------------------------------------------------------
#
# An inquiry is the first call about someone seeking care, from the person or someone for them.
# It is Part 2 data from that call on: read and written by the clinic's staff only, audited.
# ``new → screening → verifying → scheduled → admitted``, or ``not_admitted`` (with a reason) from
# any open stage; a database trigger refuses any other move (migration 0018).


class ReferralSourceKind(models.TextChoices):
    HOSPITAL = "hospital", "Hospital"
    COURT = "court", "Court"
    EMPLOYER = "employer", "Employer"
    FAMILY = "family", "Family"
    SELF = "self", "Self"
    ANOTHER_PROGRAM = "another_program", "Another program"
    ONLINE = "online", "Online"
    OTHER = "other", "Other"


class ReferralSource(models.Model):
    """How callers hear of a clinic: each clinic keeps its own list (a new clinic starts with one
    source of each kind but ``other``), which the admissions report counts by."""

    clinic = models.ForeignKey(
        "clinic.Clinic", on_delete=models.PROTECT, related_name="referral_sources"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ReferralSourceKind.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["clinic", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                "clinic",
                name="referral_source_name_unique_per_clinic",
                violation_error_code="referral_source_name_taken",
                violation_error_message="This clinic already has a referral source with this name.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ReferralSourceKind.values),
                name="referral_source_kind_known",
                violation_error_message="Unknown referral source kind.",
            ),
        ]

    def __str__(self):
        return self.name


class InquiryStatus(models.TextChoices):
    NEW = "new", "New"
    SCREENING = "screening", "Screening"
    VERIFYING = "verifying", "Verifying benefits"
    SCHEDULED = "scheduled", "Scheduled"
    ADMITTED = "admitted", "Admitted"
    NOT_ADMITTED = "not_admitted", "Not admitted"


# The stages of an inquiry still being worked (each has a next contact date).
OPEN_INQUIRY = [
    InquiryStatus.NEW,
    InquiryStatus.SCREENING,
    InquiryStatus.VERIFYING,
    InquiryStatus.SCHEDULED,
]


class NotAdmittedReason(models.TextChoices):
    NO_SHOW = "no_show", "No show"
    CHOSE_ELSEWHERE = "chose_elsewhere", "Chose another provider"
    NOT_APPROPRIATE = "not_appropriate", "Not appropriate for our programs"
    NO_COVERAGE = "no_coverage", "No coverage"
    UNABLE_TO_REACH = "unable_to_reach", "Unable to reach"


class CallerRelation(models.TextChoices):
    SELF = "self", "The person seeking care"
    PARENT = "parent", "Parent"
    SPOUSE = "spouse", "Spouse or partner"
    CHILD = "child", "Child"
    OTHER_FAMILY = "other_family", "Other family"
    FRIEND = "friend", "Friend"
    PROFESSIONAL = "professional", "Professional (referrer, counsellor, officer)"
    OTHER = "other", "Other"


class CallbackMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    SMS = "sms", "Text message"
    EMAIL = "email", "E-mail"


class Inquiry(models.Model):
    """A call or referral about someone seeking care, worked by the admissions desk until the
    person is admitted or not. ``patient`` is set when the inquiry is linked to a registered
    patient (a duplicate found, or the conversion); ``enrollment`` is the admission it became."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="inquiries")
    status = models.CharField(
        max_length=12, choices=InquiryStatus.choices, default=InquiryStatus.NEW
    )
    received_at = models.DateTimeField()
    # The person seeking care (the prospective patient); the birth date may be unknown at first.
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    # Who called: the person themself (``caller_relation`` self) or someone for them.
    caller_relation = models.CharField(
        max_length=14, choices=CallerRelation.choices, default=CallerRelation.SELF
    )
    caller_name = models.CharField(max_length=200, blank=True)
    caller_phone = models.CharField(max_length=32, blank=True)
    caller_email = models.EmailField(blank=True)
    referral_source = models.ForeignKey(
        ReferralSource, on_delete=models.PROTECT, related_name="inquiries"
    )
    referring_organization = models.CharField(max_length=200, blank=True)
    referring_contact = models.CharField(max_length=200, blank=True)
    # In the caller's words.
    substances = models.TextField(blank=True)
    urgency = models.TextField(blank=True)
    callback_consent = models.BooleanField(
        default=False, help_text="The caller agreed to be called back."
    )
    callback_method = models.CharField(max_length=8, choices=CallbackMethod.choices, blank=True)
    program = models.ForeignKey(
        Program,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inquiries",
        help_text="The program the person is considered for.",
    )
    next_contact_on = models.DateField(null=True, blank=True)
    not_admitted_reason = models.CharField(
        max_length=16, choices=NotAdmittedReason.choices, blank=True
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inquiries",
    )
    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, null=True, blank=True, related_name="inquiry"
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "inquiries"
        indexes = [
            models.Index(fields=["clinic", "status", "next_contact_on"], name="inquiry_desk"),
            models.Index(fields=["clinic", "received_at"], name="inquiry_clinic_received"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=InquiryStatus.values),
                name="inquiry_status_known",
                violation_error_message="Unknown inquiry status.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=InquiryStatus.NOT_ADMITTED)
                    & Q(not_admitted_reason__in=NotAdmittedReason.values)
                )
                | (~Q(status=InquiryStatus.NOT_ADMITTED) & Q(not_admitted_reason="")),
                name="inquiry_reason_iff_not_admitted",
                violation_error_message="A reason is given exactly when the person is not "
                "admitted.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=InquiryStatus.ADMITTED)
                    & Q(enrollment__isnull=False)
                    & Q(patient__isnull=False)
                )
                | (~Q(status=InquiryStatus.ADMITTED) & Q(enrollment__isnull=True)),
                name="inquiry_enrollment_iff_admitted",
                violation_error_message="An inquiry names its admission exactly when admitted.",
            ),
            models.CheckConstraint(
                condition=Q(callback_method="") | Q(callback_consent=True),
                name="inquiry_callback_method_needs_consent",
                violation_error_message="A callback method needs the caller's consent to be "
                "called back.",
            ),
            models.CheckConstraint(
                condition=Q(caller_relation__in=CallerRelation.values),
                name="inquiry_caller_relation_known",
                violation_error_message="Unknown caller relation.",
            ),
        ]

    def __str__(self):
        return f"Inquiry {self.pk} ({self.get_status_display()})"

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INQUIRY


class InquiryStatusChange(models.Model):
    """One move of an inquiry's status (its creation: ``from_status`` blank), appended by the
    service that makes it, in its transaction; the database refuses UPDATE and DELETE."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(
        max_length=12, choices=InquiryStatus.choices, blank=True, editable=False
    )
    to_status = models.CharField(max_length=12, choices=InquiryStatus.choices, editable=False)
    changed_at = models.DateTimeField(editable=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="Empty for a change the system made (a held place that lapsed).",
    )
    reason = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["inquiry", "to_status"], name="inquiry_change_status")]

    def __str__(self):
        return f"{self.from_status or 'new'} → {self.to_status}"


class WithdrawalRiskFlag(models.TextChoices):
    """Signs on a first call that withdrawal may need medical review today."""

    SEIZURE_HISTORY = "seizure_history", "Withdrawal seizures before"
    DELIRIUM_HISTORY = "delirium_history", "Delirium tremens before"
    HEAVY_DAILY_ALCOHOL = "heavy_daily_alcohol", "Heavy daily alcohol use"
    DAILY_BENZODIAZEPINES = "daily_benzodiazepines", "Daily benzodiazepine use"
    WITHDRAWING_NOW = "withdrawing_now", "Withdrawal symptoms now"
    PREGNANT = "pregnant", "Pregnant and using opioids or alcohol"


def _provisional_rating(label: str):
    return models.PositiveSmallIntegerField(label, help_text="0 (no risk) to 4 (severe).")


class InquiryScreening(models.Model):
    """A pre-admission screening: ASAM's six dimensions rated provisionally on the phone, and the
    withdrawal signs that need a clinician today. The provisional level is the product's
    recommendation rule (``patients.recommendation``) applied to it; the clinician's assessment
    after admission decides. A later screening of the inquiry supersedes the earlier."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="screenings")
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    screened_at = models.DateTimeField()
    criteria_count = models.PositiveSmallIntegerField(
        help_text="DSM-5 criteria the caller describes (0–11)."
    )
    d1 = _provisional_rating("Dimension 1: intoxication / withdrawal")
    d2 = _provisional_rating("Dimension 2: biomedical")
    d3 = _provisional_rating("Dimension 3: emotional / behavioral / cognitive")
    d4 = _provisional_rating("Dimension 4: readiness to change")
    d5 = _provisional_rating("Dimension 5: relapse / continued use potential")
    d6 = _provisional_rating("Dimension 6: recovery environment")
    prior_outpatient_relapse = models.BooleanField(default=False)
    daytime_obligations = models.BooleanField(default=False)
    withdrawal_flags = ArrayField(
        models.CharField(max_length=24, choices=WithdrawalRiskFlag.choices),
        default=list,
        blank=True,
    )
    provisional_level = models.CharField(max_length=12, choices=Level.choices, editable=False)
    provisional_track = models.CharField(
        max_length=8, choices=Track.choices, blank=True, editable=False
    )
    rationale = ArrayField(models.TextField(), default=list, editable=False)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-screened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(criteria_count__lte=11),
                name="inquiry_screening_criteria_0_to_11",
                violation_error_message="DSM-5 has 11 criteria.",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__lte": 4}),
                    name=f"inquiry_screening_{name}_0_to_4",
                    violation_error_message="Each dimension is rated 0 to 4.",
                )
                for name in ("d1", "d2", "d3", "d4", "d5", "d6")
            ),
        ]

    def __str__(self):
        return f"Screening of inquiry {self.inquiry_id}: {self.get_provisional_level_display()}"

    @property
    def dimensions(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("d1", "d2", "d3", "d4", "d5", "d6")}


class BenefitsOutcome(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"
    SELF_PAY = "self_pay", "Self-pay"
    UNABLE_TO_VERIFY = "unable_to_verify", "Unable to verify"


class BenefitsVerification(models.Model):
    """A verification of benefits on an inquiry: the payer and member id (becoming the patient's
    ``Coverage`` on admission), who verified it and when, and what the payer said. A later
    verification of the inquiry supersedes the earlier."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="verifications")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="+")
    member_id = models.CharField(max_length=80, blank=True)
    group_number = models.CharField(max_length=80, blank=True)
    subscriber_relation = models.CharField(
        max_length=8, choices=SubscriberRelation.choices, default=SubscriberRelation.SELF
    )
    level = models.CharField(
        max_length=12, choices=Level.choices, help_text="The level of care verified."
    )
    in_network = models.BooleanField(null=True, blank=True)
    deductible_remaining = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    out_of_pocket_remaining = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    prior_authorization_required = models.BooleanField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=BenefitsOutcome.choices)
    reference = models.CharField(max_length=80, blank=True, help_text="The payer's call reference.")
    notes = models.TextField(blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField()

    class Meta:
        ordering = ["-verified_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome__in=BenefitsOutcome.values),
                name="benefits_outcome_known",
                violation_error_message="Unknown outcome of a verification of benefits.",
            ),
            models.CheckConstraint(
                condition=(Q(deductible_remaining__isnull=True) | Q(deductible_remaining__gte=0))
                & (Q(out_of_pocket_remaining__isnull=True) | Q(out_of_pocket_remaining__gte=0)),
                name="benefits_amounts_not_negative",
                violation_error_message="Amounts remaining cannot be negative.",
            ),
        ]

    def __str__(self):
        return f"{self.payer}: {self.get_outcome_display()}"


class HoldStatus(models.TextChoices):
    HELD = "held", "Held"
    CONVERTED = "converted", "Admitted"
    LAPSED = "lapsed", "Lapsed"
    RELEASED = "released", "Released"


class AdmissionHold(models.Model):
    """A place held in ``program`` for an inquiry's scheduled admission on ``admission_date``.
    While ``held`` it takes a place from that date on, as an admission would (the program lock
    and ``selectors.program_places`` count it); ``lapses_on`` is the last day it waits
    (``admission_date`` + the program's grace days), after which it lapses and the place goes to
    the waitlist. Converted, it names the admission it became."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="holds")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="holds")
    bed = models.ForeignKey(
        "clinic.Bed", on_delete=models.PROTECT, null=True, blank=True, related_name="holds"
    )
    admission_date = models.DateField()
    lapses_on = models.DateField(help_text="The last day the place waits for the patient.")
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.HELD)
    enrollment = models.OneToOneField(
        Enrollment, on_delete=models.PROTECT, null=True, blank=True, related_name="hold"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["admission_date", "id"]
        indexes = [
            models.Index(
                fields=["program", "admission_date"],
                condition=Q(status="held"),
                name="admission_hold_live",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=HoldStatus.values),
                name="admission_hold_status_known",
                violation_error_message="Unknown hold status.",
            ),
            models.CheckConstraint(
                condition=Q(lapses_on__gte=F("admission_date")),
                name="admission_hold_lapses_after_date",
                violation_error_message="A hold cannot lapse before its admission date.",
            ),
            models.CheckConstraint(
                condition=(Q(status=HoldStatus.CONVERTED) & Q(enrollment__isnull=False))
                | (~Q(status=HoldStatus.CONVERTED) & Q(enrollment__isnull=True)),
                name="admission_hold_enrollment_iff_converted",
                violation_error_message="A hold names its admission exactly when converted.",
            ),
            models.CheckConstraint(
                condition=(Q(status=HoldStatus.HELD) & Q(closed_at__isnull=True))
                | (~Q(status=HoldStatus.HELD) & Q(closed_at__isnull=False)),
                name="admission_hold_closed_iff_not_held",
                violation_error_message="A hold is closed exactly when no longer held.",
            ),
            models.UniqueConstraint(
                fields=["inquiry"],
                condition=Q(status=HoldStatus.HELD),
                name="admission_hold_one_per_inquiry",
                violation_error_code="already_held",
                violation_error_message="This inquiry already holds a place.",
            ),
            models.UniqueConstraint(
                fields=["bed"],
                condition=Q(status=HoldStatus.HELD),
                name="admission_hold_one_per_bed",
                violation_error_code="bed_held",
                violation_error_message="This bed is already held for another admission.",
            ),
        ]

    def __str__(self):
        return f"{self.program} on {self.admission_date:%Y-%m-%d} ({self.get_status_display()})"


class ContactDirection(models.TextChoices):
    OUTBOUND = "outbound", "We contacted them"
    INBOUND = "inbound", "They contacted us"


class ContactOutcome(models.TextChoices):
    REACHED = "reached", "Reached"
    LEFT_MESSAGE = "left_message", "Left a message"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"


class InquiryContact(models.Model):
    """One contact with the caller: a call, a text or an e-mail, either way."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="contacts")
    method = models.CharField(max_length=8, choices=CallbackMethod.choices)
    direction = models.CharField(max_length=8, choices=ContactDirection.choices)
    outcome = models.CharField(max_length=12, choices=ContactOutcome.choices)
    note = models.TextField(blank=True)
    contacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    contacted_at = models.DateTimeField()

    class Meta:
        ordering = ["-contacted_at", "-id"]

    def __str__(self):
        return f"{self.get_method_display()} {self.get_direction_display().lower()}"


class CallbackRequest(models.Model):
    """A message asking the caller to call the clinic back, sent by beat exactly once through
    the channel layer (an outbox, as waitlist notices are). Its text names only the clinic's
    public name: never the program, a level of care or treatment."""

    inquiry = models.ForeignKey(Inquiry, on_delete=models.PROTECT, related_name="callback_requests")
    channel = models.CharField(max_length=8, choices=ReminderChannel.choices)
    to = models.CharField(max_length=254, help_text="The caller's phone number or e-mail address.")
    status = models.CharField(
        max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="pending"), name="callback_request_due"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms"]),
                name="callback_request_email_or_sms",
                violation_error_message="A callback request is sent by e-mail or SMS.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=NoticeStatus.values),
                name="callback_request_status_known",
                violation_error_message="Unknown status.",
            ),
        ]

    def __str__(self):
        return f"Callback request by {self.get_channel_display()} ({self.status})"


# Measurement-based care ---------------------------------------------------------------------------


class MeasureSchedule(models.Model):
    """When a program measures its patients with an instrument (``patients.instruments``): at
    admission, every ``every_days`` days of a stay, near its planned end, or only on a
    clinician's order (``MeasureOrder``: CIWA-Ar and COWS in withdrawal management). What is due
    is computed from these and the responses on file, never stored per day. A new program starts
    with the defaults of its level (``programs.services.measures.DEFAULT_SCHEDULES``)."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="measure_schedules")
    instrument = models.CharField(max_length=12, choices=INSTRUMENT_CHOICES)
    at_admission = models.BooleanField(default=False)
    every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Repeat every so many days of the stay; empty: never."
    )
    at_discharge = models.BooleanField(
        default=False, help_text="Due in the last days before the stay's planned end."
    )
    by_order = models.BooleanField(
        default=False, help_text="Due only while a clinician's order for it runs."
    )
    version = record_version_field()

    class Meta:
        ordering = ["program", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "instrument"],
                name="measure_schedule_once_per_program",
                violation_error_code="schedule_exists",
                violation_error_message="The program already schedules this instrument.",
            ),
            models.CheckConstraint(
                condition=Q(instrument__in=INSTRUMENT_CODES),
                name="measure_schedule_instrument_known",
                violation_error_message="Unknown instrument.",
            ),
            models.CheckConstraint(
                condition=Q(every_days__isnull=True) | Q(every_days__range=(1, 365)),
                name="measure_schedule_every_1_to_365_days",
                violation_error_message="Repeat every 1 to 365 days.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(by_order=True, at_admission=False, at_discharge=False, every_days=None)
                    | (
                        Q(by_order=False)
                        & (
                            Q(at_admission=True)
                            | Q(at_discharge=True)
                            | Q(every_days__isnull=False)
                        )
                    )
                ),
                name="measure_schedule_when",
                violation_error_message="Schedule an instrument at admission, every so many "
                "days or at discharge, or by a clinician's order alone.",
            ),
        ]

    def __str__(self):
        return f"{self.get_instrument_display()} in {self.program}"


class MeasureOrder(models.Model):
    """A clinician's order to administer a clinician-rated instrument (CIWA-Ar, COWS) every
    ``every_hours`` hours during a stay, until stopped."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="measure_orders"
    )
    instrument = models.CharField(max_length=12, choices=INSTRUMENT_CHOICES)
    every_hours = models.PositiveSmallIntegerField()
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ordered_at = models.DateTimeField()
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument__in=ORDERED_INSTRUMENT_CODES),
                name="measure_order_clinician_instrument",
                violation_error_message="Only clinician-rated instruments are ordered.",
            ),
            models.CheckConstraint(
                condition=Q(every_hours__range=(1, 24)),
                name="measure_order_every_1_to_24_hours",
                violation_error_message="Order it every 1 to 24 hours.",
            ),
            models.CheckConstraint(
                condition=Q(stopped_at__isnull=True, stopped_by__isnull=True)
                | Q(stopped_at__gte=F("ordered_at"), stopped_by__isnull=False),
                name="measure_order_stopped_after_ordered",
                violation_error_message="An order stops after it is made, by someone.",
            ),
            models.UniqueConstraint(
                fields=["enrollment", "instrument"],
                condition=Q(stopped_at__isnull=True),
                name="measure_order_one_running",
                violation_error_code="order_running",
                violation_error_message="This instrument is already ordered for the stay.",
            ),
        ]

    def __str__(self):
        return f"{self.get_instrument_display()} every {self.every_hours} h"


class MeasureSource(models.TextChoices):
    PATIENT = "patient", "The patient, in the app"
    STAFF = "staff", "Staff"


class MeasureResponse(models.Model):
    """One completed instrument: the answers as given and their score by the instrument's own
    scoring function (``patients.instruments.score``) at that moment. Append-only (a trigger):
    a wrong entry is answered by a new response, never edited; only the alert it raised is
    linked afterwards."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="measure_responses"
    )
    # The stay it was taken in (none for a patient between stays); a composite foreign key holds
    # that it is the patient's (migration).
    enrollment = models.ForeignKey(
        Enrollment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="measure_responses",
    )
    instrument = models.CharField(max_length=12, choices=INSTRUMENT_CHOICES)
    answers = models.JSONField(help_text="Item key → the value chosen.")
    total = models.SmallIntegerField(null=True, blank=True)
    band = models.CharField(max_length=24, blank=True)
    subscales = models.JSONField(default=dict, blank=True)
    safety_flags = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    severe = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=MeasureSource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField()
    # The app's key for one submission: a retried POST finds the response it made.
    submission_key = models.UUIDField(null=True, blank=True)
    alert = models.ForeignKey(
        "clinic.StaffAlert",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [
            models.Index(
                fields=["patient", "instrument", "-completed_at"], name="measure_response_latest"
            ),
            models.Index(
                fields=["enrollment", "instrument", "completed_at"],
                name="measure_response_of_stay",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(instrument__in=INSTRUMENT_CODES),
                name="measure_response_instrument_known",
                violation_error_message="Unknown instrument.",
            ),
            models.CheckConstraint(
                condition=Q(total__isnull=True) | Q(total__gte=0),
                name="measure_response_total_not_negative",
                violation_error_message="A total is never negative.",
            ),
            models.UniqueConstraint(
                fields=["patient", "submission_key"],
                name="measure_response_submitted_once",
                violation_error_code="already_submitted",
                violation_error_message="This submission was already recorded.",
            ),
        ]

    def __str__(self):
        return f"{self.get_instrument_display()} on {self.completed_at:%Y-%m-%d}"


class MeasureReminder(models.Model):
    """The patient's reminder that a measure is due (an outbox row, sent once per due
    occurrence ever: ``(enrollment, instrument, due_on)`` is unique). Its text says only "You
    have a check-in waiting in the app": never the instrument, mood or treatment."""

    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.PROTECT, related_name="measure_reminders"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="measure_reminders"
    )
    instrument = models.CharField(max_length=12, choices=INSTRUMENT_CHOICES)
    due_on = models.DateField(help_text="The day the measure fell due.")
    channel = models.CharField(max_length=8, choices=ReminderChannel.choices, blank=True)
    status = models.CharField(
        max_length=8, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    due_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-due_at", "-id"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="pending"), name="measure_reminder_due"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "instrument", "due_on"],
                name="measure_reminder_once_per_due",
                violation_error_code="reminder_exists",
                violation_error_message="This due measure was already reminded of.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=NoticeStatus.values),
                name="measure_reminder_status_known",
                violation_error_message="Unknown status.",
            ),
        ]

    def __str__(self):
        return f"Measure reminder due {self.due_on:%Y-%m-%d} ({self.status})"
