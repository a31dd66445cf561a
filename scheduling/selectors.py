"""Reads of the calendar, scoped to the caller's clinics.

A session carries what the API shows beside its own columns (its clinic's zone, program, room
and facilitator names, roster size, whether attendance is overdue) as annotations, computed by
the database in the list's one query rather than per row.
"""

import datetime

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from clinic.models import Room
from clinic.selectors import clinic_ids_for_user, clinic_staff
from scheduling.models import Reminder, RosterEntry, Series, Session, SessionStatus


def _roster_count() -> Coalesce:
    # A correlated subquery rather than Count("roster"): the list may also join the roster (the
    # patient filter), which would make a joined count wrong and force a GROUP BY.
    counts = (
        RosterEntry.objects.filter(session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), Value(0))


def _needs_attendance(now: datetime.datetime) -> ExpressionWrapper:
    """Ended, not cancelled, and someone on its roster has no attendance row yet.

    ``now`` comes from Python, not the database's clock, so that it agrees with
    ``timezone.now()`` everywhere else (and with frozen time in tests)."""
    # The outer ``ends_at`` tested inside too: it keeps the subquery a probe of the page's rows
    # (an equality alone may be hashed over the whole roster table).
    unrecorded = RosterEntry.objects.filter(
        LessThanOrEqual(OuterRef("ends_at"), Value(now, output_field=DateTimeField())),
        session=OuterRef("pk"),
        attendance__isnull=True,
    )
    return ExpressionWrapper(
        Q(ends_at__lte=now) & ~Q(status=SessionStatus.CANCELLED) & Exists(unrecorded),
        output_field=BooleanField(),
    )


def staff_name(user_path: str):
    """A staff member's name as the API shows it: ``User.get_full_name()``, else the username;
    null without one. ``user_path``: the foreign key to the user."""
    full_name = Trim(
        Concat(F(f"{user_path}__first_name"), Value(" "), F(f"{user_path}__last_name")),
        output_field=CharField(),
    )
    return Coalesce(NullIf(full_name, Value("")), F(f"{user_path}__username"))


def session_annotate(queryset: QuerySet[Session]) -> QuerySet[Session]:
    return queryset.select_related("clinic", "program", "room", "facilitator").annotate(
        time_zone=F("clinic__time_zone"),
        program_name=F("program__name"),
        room_name=F("room__name"),
        facilitator_name=staff_name("facilitator"),
        roster_count=_roster_count(),
        needs_attendance=_needs_attendance(timezone.now()),
    )


def session_list(*, user) -> QuerySet[Session]:
    """Sessions of the caller's clinics with ``session_annotate``'s annotations."""
    return session_annotate(Session.objects.filter(clinic_id__in=clinic_ids_for_user(user)))


def series_list(*, user) -> QuerySet[Series]:
    return (
        Series.objects.filter(clinic_id__in=clinic_ids_for_user(user))
        .select_related("clinic", "program", "room", "facilitator", "created_by")
        .annotate(facilitator_name=staff_name("facilitator"))
    )


def roster_for(session: Session) -> QuerySet[RosterEntry]:
    """The session's roster, by patient name, with each entry's attendance (if recorded)."""
    return (
        RosterEntry.objects.filter(session=session)
        .select_related("patient", "session", "attendance", "attendance__recorded_by")
        .order_by("patient__last_name", "patient__first_name", "id")
    )


# What a session or series may name: the caller's clinics' programs, rooms and facilitators.


def program_options(*, user):
    # Scheduling knows programs only through the foreign key (DESIGN.md), not by import.
    program_model = Session._meta.get_field("program").related_model
    return program_model.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related(
        "clinic"
    )


def room_options(*, user) -> QuerySet[Room]:
    return Room.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related("clinic")


def facilitator_options(*, user):
    """Clinicians and supervisors who work at one of the caller's clinics."""
    return clinic_staff(clinic_ids=clinic_ids_for_user(user)).order_by(
        "last_name", "first_name", "username"
    )


def reminder_list(*, user) -> QuerySet[Reminder]:
    """Reminders of the caller's clinics' sessions, with the session (whose clinic the audit
    rows name) in the same query."""
    return (
        Reminder.objects.filter(session__clinic_id__in=clinic_ids_for_user(user))
        .select_related("session")
        .order_by("scheduled_for", "id")
    )


def schedule_entries(*, patient, start: datetime.datetime, end: datetime.datetime):
    """The patient's roster entries on sessions overlapping [start, end), oldest first."""
    return (
        RosterEntry.objects.filter(
            patient=patient, session__starts_at__lt=end, session__ends_at__gt=start
        )
        .select_related("session")
        .order_by("session__starts_at", "session_id")
    )
