"""Reads of the calendar, scoped to the caller's clinics.

A session carries what the API shows beside its own columns (its clinic's zone, program, room
and facilitator names, roster size, whether attendance is overdue) as annotations, computed by
the database in the list's one query rather than per row.
"""

import datetime

from django.db import connection
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

from clinic.models import Clinic, Room
from clinic.selectors import clinic_ids_for_user, clinic_staff
from clinic.sql import Table, statement
from scheduling import feeds
from scheduling.models import (
    Attendance,
    CalendarFeed,
    Reminder,
    RosterEntry,
    Series,
    Session,
    SessionStatus,
)


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
    return session_annotate(session_list_for_page(user=user))


def session_list_for_page(*, user) -> QuerySet[Session]:
    """The caller's clinics' sessions without annotations: what the list filters, orders and
    cuts into a page of ids, whose rows ``SessionPage`` reads."""
    return Session.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def needs_attendance() -> ExpressionWrapper:
    """``session_annotate``'s ``needs_attendance`` now, for a filter."""
    return _needs_attendance(timezone.now())


# The session list's row, by name (SessionSerializer's fields, in its order) for the sessions a
# page of ids names (the ORM's filtered, ordered, sliced id query, inlined: one round trip), in
# that order. The names and the roster count and attendance probe are computed as
# ``session_annotate`` computes them, for the page's rows only: one statement rather than the
# ORM's, whose annotations cost more to build and compile than to run
# (tests/scheduling/sessions_api/test_session_list.py holds the two to the same rows).
_SESSION_PAGE_SQL = statement(
    """
WITH page AS MATERIALIZED (SELECT ARRAY({{ids}}) AS ids)
SELECT {s.id} AS id, {s.clinic_id} AS clinic, {s.program_id} AS program,
       {p.name} AS program_name, {s.series_id} AS series,
       {s.occurrence_date} AS occurrence_date, {s.detached} AS detached, {s.kind} AS kind,
       {s.title} AS title, {s.starts_at} AS starts_at, {s.ends_at} AS ends_at,
       {c.time_zone} AS time_zone, {s.location} AS location, {s.room_id} AS room,
       {rm.name} AS room_name, {s.facilitator_id} AS facilitator,
       -- selectors.staff_name: the full name, else the username.
       COALESCE(NULLIF(TRIM({u.first_name} || ' ' || {u.last_name}), ''), {u.username})
           AS facilitator_name,
       {s.capacity} AS capacity, {s.status} AS status, {s.sequence} AS sequence,
       (SELECT count(*) FROM {r} WHERE {r.session_id} = {s.id}) AS roster_count,
       ({s.ends_at} <= %s AND NOT ({s.status} = %s) AND EXISTS (
            -- The outer ends_at tested inside too: see _needs_attendance.
            SELECT 1 FROM {r}
            LEFT JOIN {a} ON {a.roster_entry_id} = {r.id}
            WHERE {r.session_id} = {s.id} AND {s.ends_at} <= %s AND {a.id} IS NULL))
           AS needs_attendance,
       {s.created_at} AS created_at, {s.updated_at} AS updated_at
FROM {s}
JOIN {c} ON {c.id} = {s.clinic_id}
LEFT JOIN {p} ON {p.id} = {s.program_id}
LEFT JOIN {rm} ON {rm.id} = {s.room_id}
LEFT JOIN {u} ON {u.id} = {s.facilitator_id}
WHERE {s.id} = ANY((SELECT ids FROM page)::bigint[])
ORDER BY array_position((SELECT ids FROM page), {s.id})
""",
    s=Table(Session, "s"),
    c=Table(Clinic, "c"),
    # Scheduling knows programs only through the foreign key (DESIGN.md), not by import.
    p=Table(Session._meta.get_field("program").related_model, "p"),
    rm=Table(Room, "rm"),
    u=Table(Session._meta.get_field("facilitator").related_model, "u"),
    r=Table(RosterEntry, "r"),
    a=Table(Attendance, "a"),
)


class SessionPage:
    """The session list for the paginator: a slice of it is that page's rows (tuples of
    ``_SESSION_PAGE_SQL``'s named columns) in one query; ``ids`` is the filtered, ordered
    ``session_list_for_page`` as ``values_list("id", flat=True)``."""

    def __init__(self, ids: QuerySet):
        self.ids = ids

    def count(self) -> int:
        return self.ids.count()

    def __getitem__(self, window: slice) -> list[tuple]:
        ids_sql, ids_params = self.ids[window].query.sql_with_params()
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                _SESSION_PAGE_SQL.replace("{ids}", ids_sql),
                [*ids_params, now, SessionStatus.CANCELLED.value, now],
            )
            return cursor.fetchall()


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


def calendar_feed_by_token(token: str) -> CalendarFeed | None:
    """The feed this raw token opens, or None: unknown, rotated, or its owner's account is gone
    (a patient whose app access was withdrawn, a deactivated staff user). One query."""
    feed = (
        CalendarFeed.objects.select_related("patient__clinic", "patient__app_user", "user")
        .filter(token_hash=feeds.token_hash(token))
        .first()
    )
    if feed is None:
        return None
    account = feed.patient.app_user if feed.patient_id is not None else feed.user
    if account is None or not account.is_active:
        return None
    return feed
