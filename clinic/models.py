"""The organisation: clinics, staff membership and roles, and the audit trail."""

import datetime
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now, Upper
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone name (for example America/New_York).",
            params={"value": value},
            code="invalid_time_zone",
        )


# auth.User is not ours to give constraints, so its case-insensitive uniqueness is an index of
# migration 0009: "Ana" cannot sign up beside "ana". With Django's own (case-sensitive) unique
# constraint, these are the indexes whose violation means "this username is taken".
USERNAME_LOWER_UNIQUE_INDEX = "auth_user_username_lower_uniq"
USERNAME_UNIQUE_INDEXES = frozenset({USERNAME_LOWER_UNIQUE_INDEX, "auth_user_username_key"})
USERNAME_TAKEN = "This username is taken; choose another."


def record_version_field() -> models.PositiveIntegerField:
    """The ``version`` of a record that staff edit concurrently (ETag / If-Match, the admin's
    stale-form check; ``clinic.versions``). A database trigger (clinic migration 0011) raises it
    on every UPDATE that changes the row, whatever path wrote it, so the code never sets it."""
    return models.PositiveIntegerField(default=1, db_default=1, editable=False)


class Role(models.TextChoices):
    """Staff roles; each is a Django group of the same name (created by a migration)."""

    ADMISSIONS = "admissions", "Admissions"
    CLINICIAN = "clinician", "Clinician"
    SUPERVISOR = "supervisor", "Supervisor"
    # Works the payers' authorizations and reviews (issue 23): reads the record, writes coverage.
    UTILIZATION_REVIEW = "utilization_review", "Utilization review"
    # Calls patients in the weeks after discharge (issue 25): works the follow-up tasks.
    ALUMNI_COORDINATOR = "alumni_coordinator", "Alumni coordinator"


def zone_today(time_zone: str, now: datetime.datetime | None = None) -> datetime.date:
    """The date in ``time_zone`` at ``now`` (default: the current time): the one definition of
    a clinic's "today", for callers that group clinics by zone (``Clinic.today``)."""
    return timezone.localdate(now, timezone=zoneinfo.ZoneInfo(time_zone))


DEFAULT_CRISIS_TEXT = (
    "If you are thinking about harming yourself or are in crisis, call or text 988 (the 988 "
    "Suicide & Crisis Lifeline) now, any time of day. In an emergency, call 911."
)


class NoteFormat(models.TextChoices):
    """How a clinic writes its individual sessions' progress notes (issue 26)."""

    DAP = "dap", "DAP (data, assessment, plan)"
    SOAP = "soap", "SOAP (subjective, objective, assessment, plan)"


class FollowUpAssignment(models.TextChoices):
    PRIMARY_CLINICIAN = "primary_clinician", "The patient's primary clinician"
    ALUMNI_COORDINATOR = "alumni_coordinator", "The clinic's alumni coordinators"


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    # What patients' phones and inboxes show: never a word about treatment (42 CFR Part 2).
    public_name = models.CharField(
        max_length=100,
        help_text="Neutral name shown in reminders and e-mails; must not reveal treatment.",
    )
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    # No SMS or push inside these local hours (e-mail waits in the inbox anyway).
    quiet_hours_start = models.TimeField(default=datetime.time(21))
    quiet_hours_end = models.TimeField(default=datetime.time(8))
    # The UR queue's thresholds: an authorization ending within this many days, or with fewer
    # units left than this, is listed and alerted once (programs.utilization).
    ur_ending_within_days = models.PositiveSmallIntegerField(
        default=2, help_text="List authorizations ending within this many days."
    )
    ur_units_left_below = models.PositiveSmallIntegerField(
        default=2, help_text="List authorizations with fewer units left than this."
    )
    # What the patient's app shows at once when a measure flags a safety risk (self-harm
    # thoughts, a severe score): the crisis line the clinic's patients should call.
    crisis_text = models.TextField(
        default=DEFAULT_CRISIS_TEXT,
        help_text="Shown in the app when a measure flags a safety risk.",
    )
    # After discharge (issue 25): who calls the patient at 2, 7 and 30 days, and how long the
    # patient's app stays open to an alumnus (their plan, check-ins, follow-up reminders).
    follow_up_assignment = models.CharField(
        max_length=20,
        choices=FollowUpAssignment.choices,
        default=FollowUpAssignment.PRIMARY_CLINICIAN,
        help_text="Who is given the follow-up calls after a discharge.",
    )
    alumni_access_days = models.PositiveSmallIntegerField(
        default=365,
        help_text="Days after discharge the patient's app keeps their plan and check-ins.",
    )
    # Progress notes (issue 26): the format of individual notes, and how long after a session
    # its notes may stay unsigned before they are flagged late.
    note_format = models.CharField(
        max_length=4,
        choices=NoteFormat.choices,
        default=NoteFormat.DAP,
        help_text="The format of individual sessions' progress notes.",
    )
    note_late_hours = models.PositiveSmallIntegerField(
        default=72, help_text="Hours after a session its notes are flagged late until signed."
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Upper("name"),
                name="clinic_name_unique_ci",
                violation_error_code="clinic_name_taken",
                violation_error_message="A clinic with this name already exists.",
            ),
            models.CheckConstraint(
                condition=~models.Q(public_name=""),
                name="clinic_public_name_not_blank",
                violation_error_message="A clinic needs a public name.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self, now: datetime.datetime | None = None) -> datetime.date:
        """The clinic's date at ``now`` (default: the current time): its "today"."""
        return zone_today(self.time_zone, now)


class ClinicMembership(models.Model):
    """A staff user works at a clinic; staff see only their clinics' data."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinic_memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    # Interns and unlicensed counsellors: their signed notes wait for a supervisor's co-signature.
    requires_cosignature = models.BooleanField(
        default=False,
        help_text="This person's progress notes need a supervisor's co-signature.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic"],
                name="clinic_membership_unique",
                violation_error_code="already_member",
                violation_error_message="This user is already a member of this clinic.",
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.clinic}"


class AuditAction(models.TextChoices):
    READ = "read", "Read"
    LIST = "list", "List"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class AuditEvent(models.Model):
    """Who looked at or changed which record, when (HIPAA audit controls).

    Append-only: a database trigger (migration 0002) refuses UPDATE and DELETE, so no code path,
    admin action or bulk query can rewrite history. Rows name the patient by id only and carry no
    patient data.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Null for actions of the system itself (tasks, migrations).",
    )
    clinic = models.ForeignKey(
        Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # By id, not a foreign key: the patients app sits above clinic in the dependency order.
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(
        default=timezone.now, db_default=Now(), editable=False, db_index=True
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["patient_id", "-occurred_at"], name="audit_patient_time")]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}"


class Room(models.Model):
    """A room where sessions happen; a room is never double-booked (scheduling holds that)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["clinic", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="room_unique_in_clinic",
                violation_error_code="room_exists",
                violation_error_message="This clinic already has a room with this name.",
            ),
        ]

    def __str__(self):
        return self.name


class Bed(models.Model):
    """A bed in a room of the clinic; residential programs draw on their beds."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="beds")
    room = models.CharField(max_length=50)
    label = models.CharField(max_length=20)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic", "room", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "room", "label"],
                name="bed_unique_in_room",
                violation_error_code="bed_exists",
                violation_error_message="This room already has a bed with this label.",
            ),
        ]

    def __str__(self):
        return f"{self.room}-{self.label}"


class AlertKind(models.TextChoices):
    WAITLIST_OFFER = "waitlist_offer", "A freed place is offered to a waitlisted patient"
    RISKY_CHECK_IN = "risky_check_in", "A check-in reports use or strong cravings"
    CONTINUITY_GAP = "continuity_gap", "No session attended a week after a move between levels"
    AUTHORIZATION_ENDING = "authorization_ending", "A payer's authorization ends soon"
    AUTHORIZATION_UNITS_LOW = "authorization_units_low", "An authorization has few units left"
    REVIEW_OVERDUE = "review_overdue", "A payer review is past its date"
    AUTHORIZATION_MISSING = "authorization_missing", "A covered stay has no authorization"
    WITHDRAWAL_RISK = "withdrawal_risk", "A pre-admission screening flags withdrawal risk"
    INQUIRY_OVERDUE = "inquiry_overdue", "An open inquiry is past its next contact date"
    MEASURE_SAFETY = "measure_safety", "Urgent: a measure needs safety follow-up today"
    FOLLOW_UP_OVERDUE = "follow_up_overdue", "A follow-up call after discharge is overdue"


# Kinds a patient raises by their own doing and may repeat at will (a risky check-in a minute):
# at most one open alert per patient of these, later occurrences attach to it. The others are
# one alert per thing staff must act on (an offer, a move), raised by the clinic's own events.
COALESCING_ALERT_KINDS = (AlertKind.RISKY_CHECK_IN,)


class StaffAlert(models.Model):
    """Something staff must act on. One alert per subject and kind, ever (a unique constraint),
    so a retried task or a double submit never alerts twice; for ``COALESCING_ALERT_KINDS`` also
    at most one open alert per patient (a partial unique index), which later subjects attach to.
    Staff read alerts in the API and the admin, and each recipient gets one e-mail about it
    (``AlertDelivery``)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    # A named recipient, or everyone of a role at the clinic.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alerts",
    )
    recipient_role = models.CharField(max_length=32, choices=Role.choices, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    # A coalescing kind's later subjects while the alert is open: how many in all (the first
    # included) and when the latest happened.
    occurrences = models.PositiveIntegerField(default=1)
    last_occurred_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "object_type", "object_id"],
                name="alert_once_per_subject",
                violation_error_code="alert_exists",
                violation_error_message="This alert was already raised.",
            ),
            models.UniqueConstraint(
                fields=["kind", "patient_id"],
                condition=Q(
                    kind__in=COALESCING_ALERT_KINDS,
                    acknowledged_at__isnull=True,
                    patient_id__isnull=False,
                ),
                name="alert_one_open_per_patient",
                violation_error_code="alert_open",
                violation_error_message="This patient already has an open alert of this kind.",
            ),
            models.CheckConstraint(
                condition=Q(recipient__isnull=False) | ~Q(recipient_role=""),
                name="alert_has_recipient",
                violation_error_message="An alert goes to a person or a role.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled (acknowledged before it went out)"
    UNKNOWN = "unknown", "Outcome unknown (cut off mid-send; never resent)"


class AlertDelivery(models.Model):
    """One e-mail telling one staff member that an alert awaits them: an outbox row, unique per
    alert and person, claimed before the mail server is called, so it goes out at most once."""

    alert = models.ForeignKey(StaffAlert, on_delete=models.CASCADE, related_name="deliveries")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_deliveries"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    scheduled_for = models.DateTimeField(default=timezone.now, db_default=Now())
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        indexes = [
            models.Index(
                fields=["status", "scheduled_for"],
                name="alert_delivery_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "recipient"],
                name="alert_delivery_once",
                violation_error_code="delivery_exists",
                violation_error_message="This alert was already sent to this person.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values),
                name="alert_delivery_status_known",
                violation_error_message="Unknown delivery status.",
            ),
        ]

    def __str__(self):
        return f"Alert {self.alert_id} to {self.recipient_id} ({self.status})"


class SchedulerLease(models.Model):
    """Which process may do a job that must run exactly once at a time (the Celery beat):
    the holder renews its lease before ``expires_at``; another process takes it over only after
    (clinic.services.leases). A row, not an advisory lock: a pooler in transaction mode keeps no
    session for a session lock to live in."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} held by {self.holder} until {self.expires_at:%Y-%m-%d %H:%M:%S}"
