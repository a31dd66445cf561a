"""Reads of the calendar, scoped to the caller's clinics.

The session list carries two annotations that every row needs (its roster size and whether
attendance is overdue), computed by the database in the list's one query rather than per row.
"""

import datetime
import functools

from django.db import connection
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

from clinic.models import Room
from clinic.selectors import clinic_ids_for_user, clinic_staff
from scheduling import feeds
from scheduling.models import (
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


def session_list_for_page(*, user) -> QuerySet[Session]:
    """What the session list filters, orders and cuts into a page (``session_page_rows`` then
    reads the page): the caller's clinics' sessions. A plain query for the ORM to build:
    ``session_list``'s annotations and joins cost more to compile than to run."""
    return Session.objects.filter(clinic_id__in=clinic_ids_for_user(user))


def needs_attendance() -> ExpressionWrapper:
    """``session_annotate``'s ``needs_attendance`` now, for a filter."""
    return _needs_attendance(timezone.now())


# The list's columns (SESSION_PAGE_COLUMNS) of the page whose ids the query ``{ids}`` reads in
# order (the ORM's page of ids, inlined: one round trip), with ``roster_count`` and
# ``needs_attendance`` as ``session_annotate`` computes them, for the page's rows only.
# ("programs_program": scheduling knows programs only through the foreign key, DESIGN.md.)
_SESSION_PAGE_SQL = """
WITH page AS MATERIALIZED (SELECT ARRAY({ids}) AS ids)
SELECT s.id, s.clinic_id, s.program_id, p.name, s.series_id, s.occurrence_date, s.detached,
       s.kind, s.title, s.starts_at, s.ends_at, c.time_zone, s.location, s.room_id, rm.name,
       s.facilitator_id, u.first_name, u.last_name, u.username, s.capacity, s.status,
       s.sequence,
       (SELECT count(*) FROM scheduling_rosterentry r WHERE r.session_id = s.id),
       (s.ends_at <= %s AND NOT (s.status = %s) AND EXISTS (
            -- The outer ends_at tested inside too: see _needs_attendance.
            SELECT 1 FROM scheduling_rosterentry r
            LEFT JOIN scheduling_attendance a ON a.roster_entry_id = r.id
            WHERE r.session_id = s.id AND s.ends_at <= %s AND a.id IS NULL)),
       s.created_at, s.updated_at
FROM scheduling_session s
JOIN clinic_clinic c ON c.id = s.clinic_id
LEFT JOIN programs_program p ON p.id = s.program_id
LEFT JOIN clinic_room rm ON rm.id = s.room_id
LEFT JOIN auth_user u ON u.id = s.facilitator_id
WHERE s.id = ANY((SELECT ids FROM page)::bigint[])
ORDER BY array_position((SELECT ids FROM page), s.id)
"""
SESSION_PAGE_COLUMNS = (
    "id",
    "clinic_id",
    "program_id",
    "program__name",
    "series_id",
    "occurrence_date",
    "detached",
    "kind",
    "title",
    "starts_at",
    "ends_at",
    "clinic__time_zone",
    "location",
    "room_id",
    "room__name",
    "facilitator_id",
    "facilitator__first_name",
    "facilitator__last_name",
    "facilitator__username",
    "capacity",
    "status",
    "sequence",
    "roster_count",
    "needs_attendance",
    "created_at",
    "updated_at",
)


# The page of the plain list (no filter, the default order): its ids in a statement built once
# per number of clinics, rather than by the ORM on every request. The same ids in the same order
# as ``session_list_for_page(...).order_by("starts_at", "id")`` sliced (tests/scheduling/
# test_sessions_api.py compares them). ``IN`` with one id is ``clinic_id = …`` to the planner,
# which walks the clinic's index in start order; ``= ANY(array)`` would sort the whole clinic.
@functools.lru_cache(maxsize=64)
def _plain_page_sql(clinics: int) -> str:
    placeholders = ", ".join(["%s"] * clinics)
    return _SESSION_PAGE_SQL.format(
        ids="SELECT id FROM scheduling_session "  # noqa: S608 (placeholders only)
        f"WHERE clinic_id IN ({placeholders}) ORDER BY starts_at, id LIMIT %s OFFSET %s"
    )


class SessionPage:
    """The session list for the paginator: a slice of it is that page's rows (tuples of
    ``SESSION_PAGE_COLUMNS``) in one query, the ids cut by ``ids`` (the filtered, ordered
    ``session_list_for_page`` as ``values_list("id", flat=True)``), or for the plain list
    (``SessionPage.plain``) the clinics' sessions by start."""

    def __init__(self, ids: QuerySet | None = None, *, clinic_ids: list[int] | None = None):
        self.ids = ids
        self.clinic_ids = clinic_ids

    @classmethod
    def plain(cls, *, user) -> "SessionPage":
        """The caller's clinics' sessions, oldest start first (the list with no filter)."""
        return cls(clinic_ids=list(clinic_ids_for_user(user)))

    def count(self) -> int:
        if self.ids is None:
            return Session.objects.filter(clinic_id__in=self.clinic_ids).count()
        return self.ids.count()

    def __getitem__(self, window: slice) -> list[tuple]:
        if self.ids is not None:
            return session_page_rows(self.ids[window])
        if not self.clinic_ids:
            return []
        offset = window.start or 0
        limit = window.stop - offset if window.stop is not None else None
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                _plain_page_sql(len(self.clinic_ids)),
                [*self.clinic_ids, limit, offset, now, SessionStatus.CANCELLED.value, now],
            )
            return cursor.fetchall()


def session_page_rows(ids: QuerySet) -> list[tuple]:
    """The list's rows (tuples of ``SESSION_PAGE_COLUMNS``) of the sessions a (sliced) query of
    ids reads, in its order: one query, its cost that of the page."""
    ids_sql, ids_params = ids.query.sql_with_params()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            _SESSION_PAGE_SQL.format(ids=ids_sql),
            [*ids_params, now, SessionStatus.CANCELLED.value, now],
        )
        return cursor.fetchall()


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


# The patient's schedule (``me/schedule/``): one statement, built once at import. The same rows
# and order as ``RosterEntry.objects.filter(patient=..., session__starts_at__lt=end,
# session__ends_at__gt=start).order_by("session__starts_at", "session_id")`` read as
# ``scheduling.api.me.SCHEDULE_COLUMNS`` (tests/scheduling/test_me_schedule.py compares them),
# without the ORM building and compiling that query on every request.
_SCHEDULE_FROM = f"""
FROM {RosterEntry._meta.db_table} r JOIN {Session._meta.db_table} s ON s.id = r.session_id
WHERE r.patient_id = %s AND s.starts_at < %s AND s.ends_at > %s
"""
_SCHEDULE_PAGE_SQL = f"""
SELECT s.id, s.title, s.kind, s.starts_at, s.ends_at, s.location, s.status, r.response,
       r.responded_at, r.id, s.clinic_id
{_SCHEDULE_FROM}
ORDER BY s.starts_at, r.session_id
LIMIT %s OFFSET %s
"""
_SCHEDULE_COUNT_SQL = f"SELECT count(*) {_SCHEDULE_FROM}"


class SchedulePage:
    """The patient's roster entries on sessions overlapping [start, end), oldest first, for the
    paginator: a slice is that window's rows (session id, title, kind, starts_at, ends_at,
    location, status, response, responded_at, roster entry id, clinic id) in one query."""

    def __init__(self, *, patient_id: int, start: datetime.datetime, end: datetime.datetime):
        self.params = [patient_id, end, start]

    def count(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(_SCHEDULE_COUNT_SQL, self.params)
            return cursor.fetchone()[0]

    def __getitem__(self, window: slice) -> list[tuple]:
        offset = window.start or 0
        limit = window.stop - offset if window.stop is not None else None
        with connection.cursor() as cursor:
            cursor.execute(_SCHEDULE_PAGE_SQL, [*self.params, limit, offset])
            return cursor.fetchall()


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
