"""The clinic's calendar: sessions, recurring series, rosters, attendance and calendar feeds.

Scheduling knows a program only through its foreign key (``"programs.Program"``, by string) and
never imports the programs app; programs' services keep rosters in step with enrollments.
All datetimes are stored in UTC; a series keeps local wall-clock times plus the clinic's zone and
is expanded per occurrence (see ``scheduling.recurrence``).
"""

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Now
from django.utils import timezone

from clinic.models import record_version_field


class TsTzRange(Func):
    """``tstzrange(lower, upper, '[)')``: back-to-back sessions do not overlap."""

    function = "tstzrange"
    output_field = DateTimeRangeField()

    def __init__(self, lower, upper):
        super().__init__(lower, upper, models.Value("[)"))


class SessionKind(models.TextChoices):
    GROUP = "group", "Group"
    INDIVIDUAL = "individual", "Individual appointment"
    EDUCATION = "education", "Education"
    FAMILY = "family", "Family"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


class Series(models.Model):
    """A weekly pattern of sessions: local start time on some weekdays, in the clinic's zone."""

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="series")
    program = models.ForeignKey(
        "programs.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="series"
    )
    kind = models.CharField(max_length=12, choices=SessionKind.choices, default=SessionKind.GROUP)
    title = models.CharField(max_length=200)
    # ISO weekdays, Monday = 1 ... Sunday = 7.
    weekdays = ArrayField(models.PositiveSmallIntegerField(), size=7)
    local_start_time = models.TimeField()
    duration_minutes = models.PositiveIntegerField()
    time_zone = models.CharField(max_length=64, help_text="The clinic's IANA zone, copied.")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    room = models.ForeignKey(
        "clinic.Room", on_delete=models.PROTECT, null=True, blank=True, related_name="series"
    )
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    capacity = models.PositiveIntegerField(null=True, blank=True)
    # Occurrences exist up to this date; the nightly task extends it to the horizon.
    materialized_until = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "series"
        constraints = [
            models.CheckConstraint(
                condition=Q(weekdays__contained_by=[1, 2, 3, 4, 5, 6, 7]) & ~Q(weekdays=[]),
                name="series_weekdays_valid",
                violation_error_message="Weekdays are 1 (Monday) to 7 (Sunday), at least one.",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0) & Q(duration_minutes__lte=24 * 60),
                name="series_duration_sane",
                violation_error_message="A session lasts between 1 minute and 24 hours.",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="series_dates_ordered",
                violation_error_message="A series cannot end before it starts.",
            ),
        ]

    def __str__(self):
        return self.title


class Session(models.Model):
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="sessions")
    program = models.ForeignKey(
        "programs.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    series = models.ForeignKey(
        Series, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    # The series' local date this session is the occurrence of (unique per series), kept when
    # one occurrence is moved so the nightly expansion never recreates it.
    occurrence_date = models.DateField(null=True, blank=True)
    # Edited or moved on its own: later edits of "all" or "this and following" leave it be.
    detached = models.BooleanField(default=False)
    kind = models.CharField(max_length=12, choices=SessionKind.choices)
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    location = models.CharField(max_length=200, blank=True)
    room = models.ForeignKey(
        "clinic.Room", on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="facilitated_sessions",
    )
    capacity = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    # iCalendar SEQUENCE: bumped whenever the time, place or status changes.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["program", "starts_at"], name="session_program_time"),
            # The session list's order (starts_at, id) within a clinic: a page is read off
            # the index, not sorted out of the clinic's whole calendar.
            models.Index(fields=["clinic", "starts_at", "id"], name="session_clinic_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="session_ends_after_start",
                violation_error_code="session_ends_before_start",
                violation_error_message="A session ends after it starts.",
            ),
            models.UniqueConstraint(
                fields=["series", "occurrence_date"],
                name="session_one_per_series_date",
                violation_error_code="occurrence_exists",
                violation_error_message="This occurrence of the series exists already.",
            ),
            ExclusionConstraint(
                name="session_facilitator_not_double_booked",
                expressions=[
                    ("facilitator", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                ],
                condition=~Q(status=SessionStatus.CANCELLED) & Q(facilitator__isnull=False),
                violation_error_code="clinician_double_booked",
                violation_error_message="The clinician has another session at that time.",
            ),
            ExclusionConstraint(
                name="session_room_not_double_booked",
                expressions=[
                    ("room", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at"), RangeOperators.OVERLAPS),
                ],
                condition=~Q(status=SessionStatus.CANCELLED) & Q(room__isnull=False),
                violation_error_code="room_double_booked",
                violation_error_message="The room is booked for another session at that time.",
            ),
        ]

    def __str__(self):
        return f"{self.title} at {self.starts_at:%Y-%m-%d %H:%M} UTC"


class RosterResponse(models.TextChoices):
    """A rostered patient's answer to a session (confirm or decline in the app)."""

    NONE = "none", "No answer"
    CONFIRMED = "confirmed", "Confirmed"
    DECLINED = "declined", "Declined"


class RosterEntry(models.Model):
    """A patient expected at a session: enrolled in its program on its date, or the patient of
    an individual appointment."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="roster")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="roster_entries"
    )
    # The program enrollment that put the patient here (by id: scheduling does not know
    # programs' models).
    enrollment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    response = models.CharField(
        max_length=10, choices=RosterResponse.choices, default=RosterResponse.NONE
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["session__starts_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient"],
                name="roster_patient_once_per_session",
                violation_error_code="already_on_roster",
                violation_error_message="The patient is already on this session's roster.",
            ),
        ]

    def __str__(self):
        return f"{self.patient_id} @ {self.session_id}"


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", "Present"
    LATE = "late", "Late"
    ABSENT = "absent", "Absent (no-show)"
    EXCUSED = "excused", "Excused"


ATTENDED = [AttendanceStatus.PRESENT, AttendanceStatus.LATE]


class Attendance(models.Model):
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="attendance")
    # Indexed with its sessions (``attendance_patient_sessions``), not on its own.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="attendance", db_index=False
    )
    roster_entry = models.OneToOneField(
        RosterEntry, on_delete=models.PROTECT, related_name="attendance"
    )
    status = models.CharField(max_length=8, choices=AttendanceStatus.choices)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        ordering = ["session__starts_at", "id"]
        indexes = [
            # A patient's sessions attended, read off the index alone: the continuity report
            # looks up each discharge's first visit among them (the table's pages, one per row
            # of a patient, were most of its cost once the table outgrew the cache).
            models.Index(
                fields=["patient", "session"],
                include=["status"],
                name="attendance_patient_sessions",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient"],
                name="attendance_once_per_session_patient",
                violation_error_code="attendance_exists",
                violation_error_message="Attendance for this patient is recorded already.",
            ),
            models.CheckConstraint(
                condition=Q(checked_in_at__isnull=True)
                | Q(status__in=[AttendanceStatus.PRESENT, AttendanceStatus.LATE]),
                name="attendance_check_in_only_when_attended",
                violation_error_message="Only a present or late patient has a check-in time.",
            ),
        ]

    def __str__(self):
        return f"{self.status} @ {self.session_id}"


class CalendarFeed(models.Model):
    """A private, revocable iCal URL for one patient or one clinician.

    The URL's token is derived from ``secret`` with the server's SECRET_KEY (HMAC), so it can be
    shown again on every request while the database alone (a backup, a replica) opens no feed;
    ``token_hash`` finds the feed from a token. Rotating replaces the secret: the old URL stops
    working at once."""

    patient = models.OneToOneField(
        "patients.Patient",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_feed",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_feed",
    )
    secret = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(patient__isnull=False, user__isnull=True)
                | Q(patient__isnull=True, user__isnull=False),
                name="calendar_feed_one_owner",
                violation_error_message="A feed belongs to one patient or one clinician.",
            ),
        ]

    def __str__(self):
        return f"Calendar feed {self.pk}"


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    PUSH = "push", "Push notification"


class ReminderKind(models.TextChoices):
    REMINDER = "reminder", "Reminder"
    CANCELLATION = "cancellation", "Cancellation notice"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Outcome unknown (cut off mid-send; never resent)"


# A reminder on its way: due or waiting to be, or being sent.
OPEN_STATUSES = [ReminderStatus.PENDING, ReminderStatus.SENDING]


class Reminder(models.Model):
    """The outbox: one row per roster entry × offset × channel (and one cancellation notice per
    session, patient and channel), so a reminder is sent at most once, ever. The database is the
    source of truth; broker messages only wake workers up."""

    # No index of its own: reminder_once (session, patient, …) serves lookups by session, and by
    # session and patient (every index is written again on each of a row's status changes).
    session = models.ForeignKey(
        Session, on_delete=models.PROTECT, related_name="reminders", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="reminders"
    )
    # Kept when the roster entry goes (the row is history); the entry's removal cancels it.
    roster_entry = models.ForeignKey(
        RosterEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="reminders"
    )
    kind = models.CharField(
        max_length=12, choices=ReminderKind.choices, default=ReminderKind.REMINDER
    )
    offset_minutes = models.PositiveIntegerField(help_text="Minutes before the start.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    scheduled_for = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Open rows are indexed on this column, not on ``status``, so a claim (pending → sending)
    # changes no indexed value and is rewritten in place (HOT; fillfactor 80, migration 0005).
    is_open = models.GeneratedField(
        expression=Q(status__in=OPEN_STATUSES),
        output_field=models.BooleanField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["scheduled_for", "id"]
        indexes = [
            # Due rows, oldest first (the drains' claim); rows sending are reached through it
            # too, as they were due when they were claimed (reminder_claimed_when_due).
            models.Index(fields=["scheduled_for"], name="reminder_open", condition=Q(is_open=True)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient", "kind", "offset_minutes", "channel"],
                name="reminder_once",
                violation_error_code="reminder_exists",
                violation_error_message="This reminder exists already.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReminderStatus.values),
                name="reminder_status_known",
                violation_error_message="Unknown reminder status.",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(status=ReminderStatus.SENT),
                name="reminder_sent_at_only_when_sent",
                violation_error_message="Only a sent reminder has a sending time.",
            ),
            models.CheckConstraint(
                condition=~Q(status=ReminderStatus.SENDING)
                | Q(claimed_at__isnull=False, scheduled_for__lte=F("claimed_at")),
                name="reminder_claimed_when_due",
                violation_error_message="A reminder is claimed for sending once it is due.",
            ),
        ]

    def __str__(self):
        return f"{self.channel} {self.kind} for {self.session_id} ({self.status})"


# FCM registration tokens are about 160-200 characters, APNs tokens 64 hex digits; 512 leaves
# room for growth and keeps a token (even of 4-byte characters) inside a btree index entry.
TOKEN_MAX_LENGTH = 512


class Device(models.Model):
    """A patient's phone registered for push (``me/devices/``)."""

    class Platform(models.TextChoices):
        IOS = "ios", "iOS"
        ANDROID = "android", "Android"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="devices"
    )
    platform = models.CharField(max_length=8, choices=Platform.choices)
    token = models.CharField(max_length=TOKEN_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    last_seen_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["token"],
                name="device_token_unique",
                violation_error_code="device_exists",
                violation_error_message="This device is registered already.",
            ),
        ]

    def __str__(self):
        return f"{self.platform} device of {self.patient_id}"
