"""Reads of the calendar, scoped to the caller's clinics.

The session list carries two annotations that every row needs (its roster size and whether
attendance is overdue), computed by the database in the list's one query rather than per row.
"""

import datetime

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from clinic.models import Role, Room
from clinic.selectors import clinic_ids_for_user
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
    # The outer ``ends_at`` tested inside the subquery too: with the correlation an equality
    # alone, PostgreSQL may hash the subquery over the whole roster table once per list query
    # (~100 ms at 250,000 entries) instead of probing the page's rows.
    unrecorded = RosterEntry.objects.filter(
        LessThanOrEqual(OuterRef("ends_at"), Value(now, output_field=DateTimeField())),
        session=OuterRef("pk"),
        attendance__isnull=True,
    )
    return ExpressionWrapper(
        Q(ends_at__lte=now) & ~Q(status=SessionStatus.CANCELLED) & Exists(unrecorded),
        output_field=BooleanField(),
    )


def session_annotate(queryset: QuerySet[Session]) -> QuerySet[Session]:
    return queryset.select_related("clinic", "program", "room", "facilitator").annotate(
        roster_count=_roster_count(), needs_attendance=_needs_attendance(timezone.now())
    )


def session_list(*, user) -> QuerySet[Session]:
    """Sessions of the caller's clinics with ``roster_count`` and ``needs_attendance``."""
    return session_annotate(Session.objects.filter(clinic_id__in=clinic_ids_for_user(user)))


def series_list(*, user) -> QuerySet[Series]:
    return Series.objects.filter(clinic_id__in=clinic_ids_for_user(user)).select_related(
        "clinic", "program", "room", "facilitator", "created_by"
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
    return (
        get_user_model()
        .objects.filter(
            groups__name__in=[Role.CLINICIAN, Role.SUPERVISOR],
            clinic_memberships__clinic_id__in=clinic_ids_for_user(user),
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def reminder_list(*, user) -> QuerySet[Reminder]:
    """Reminders of the caller's clinics' sessions, with the session (whose clinic the audit
    rows name) in the same query."""
    return (
        Reminder.objects.filter(session__clinic_id__in=clinic_ids_for_user(user))
        .select_related("session")
        .order_by("scheduled_for", "id")
    )
