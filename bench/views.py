"""Baselines for the list benchmarks: the same job as the service's views in raw SQL + orjson.

They sit behind the same middleware, authentication, permission and throttle classes as the
service (DRF's APIView with the project's defaults), read the same rows, write the same audit
rows (one INSERT per page), and answer the same ``{"next", "previous", "results"}`` shape; what
they skip is the ORM, the serializers and the page count (``LIMIT n + 1`` says whether a next
page exists). Mounted only by ``bench.urls``.

They are the independent yardstick, so they import nothing of the product's row definition
(``clinic.api.rows``, the serializers): their SQL is written by hand, as the fastest way to the
same data would be.
"""

import datetime

import orjson
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from clinic.api.mixins import never_cache_privately
from clinic.api.patient_permissions import IsPatient
from clinic.api.permissions import IsStaff
from clinic.middleware import current_request_id
from clinic.selectors import clinic_ids_for_user

MAX_PAGE = 200

SCHEDULE_SQL = """
SELECT s.id, s.title, s.kind, s.starts_at, s.ends_at, s.location, s.status, r.response,
       r.responded_at, r.id, s.clinic_id
FROM scheduling_rosterentry r JOIN scheduling_session s ON s.id = r.session_id
WHERE r.patient_id = %s AND s.starts_at < %s AND s.ends_at > %s
ORDER BY s.starts_at, r.session_id
LIMIT %s OFFSET %s
"""

SESSIONS_SQL = """
SELECT s.id, s.clinic_id, c.name, s.program_id, p.name, s.series_id, s.occurrence_date,
       s.detached, s.kind, s.title, s.starts_at, s.ends_at, s.location, s.room_id,
       s.facilitator_id, u.first_name, u.last_name, s.capacity, s.status, s.sequence,
       (SELECT count(*) FROM scheduling_rosterentry r WHERE r.session_id = s.id),
       (s.ends_at <= %(now)s AND s.status <> 'cancelled' AND EXISTS (
            -- The outer reference in a range test keeps this a per-row subplan, run for the
            -- page's rows only (as an equality alone, it is hashed over the whole table).
            SELECT 1 FROM scheduling_rosterentry r
            WHERE r.session_id = s.id AND s.ends_at <= %(now)s AND NOT EXISTS (
                SELECT 1 FROM scheduling_attendance a WHERE a.roster_entry_id = r.id))),
       s.created_at, s.updated_at
FROM scheduling_session s
JOIN clinic_clinic c ON c.id = s.clinic_id
LEFT JOIN programs_program p ON p.id = s.program_id
LEFT JOIN auth_user u ON u.id = s.facilitator_id
WHERE s.clinic_id IN %(clinics)s
ORDER BY s.starts_at, s.id
LIMIT %(limit)s OFFSET %(offset)s
"""

AUDIT_SQL = """
INSERT INTO clinic_auditevent (actor_id, action, object_type, object_id, clinic_id, patient_id,
                               request_id, occurred_at)
SELECT %s, 'list', 'scheduling.rosterentry', o.id::text, o.clinic_id, %s, %s, now()
FROM unnest(%s::bigint[], %s::bigint[]) AS o(id, clinic_id)
"""


def _page(request) -> tuple[int, int]:
    try:
        size = max(1, min(int(request.GET.get("page_size", 50)), MAX_PAGE))
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        size, number = 50, 1
    return size, number


def _links(request, rows: list, size: int, number: int) -> tuple[str | None, str | None]:
    more = len(rows) > size
    del rows[size:]
    base = request.build_absolute_uri(request.path)
    nxt = f"{base}?page={number + 1}&page_size={size}" if more else None
    prev = f"{base}?page={number - 1}&page_size={size}" if number > 1 else None
    return nxt, prev


def _json(payload) -> HttpResponse:
    return HttpResponse(orjson.dumps(payload), content_type="application/json")


@extend_schema(exclude=True)
class BaselineScheduleView(APIView):
    """``me/schedule/`` in raw SQL: the patient's sessions overlapping [start, end)."""

    permission_classes = [IsPatient]

    def get(self, request):
        patient = request.user.patient
        zone = patient.clinic.zone
        start = request.GET.get("start")
        end = request.GET.get("end")
        start = (
            datetime.datetime.combine(datetime.date.fromisoformat(start), datetime.time(), zone)
            if start
            else timezone.now()
        )
        end = (
            datetime.datetime.combine(
                datetime.date.fromisoformat(end) + datetime.timedelta(days=1),
                datetime.time(),
                zone,
            )
            if end
            else start + datetime.timedelta(days=14)
        )
        size, number = _page(request)
        with connection.cursor() as cursor:
            cursor.execute(SCHEDULE_SQL, [patient.pk, end, start, size + 1, (number - 1) * size])
            rows = cursor.fetchall()
            nxt, prev = _links(request, rows, size, number)
            cursor.execute(
                AUDIT_SQL,
                [
                    request.user.pk,
                    patient.pk,
                    current_request_id() or "",
                    [row[9] for row in rows],
                    [row[10] for row in rows],
                ],
            )
        results = [
            {
                "id": r[0],
                "title": r[1],
                "kind": r[2],
                "starts_at": r[3],
                "ends_at": r[4],
                "location": r[5],
                "status": r[6],
                "response": r[7],
                "responded_at": r[8],
            }
            for r in rows
        ]
        return never_cache_privately(_json({"next": nxt, "previous": prev, "results": results}))


@extend_schema(exclude=True)
class BaselineSessionsView(APIView):
    """``sessions/`` in raw SQL: the caller's clinics' sessions with roster size and whether
    attendance is overdue (sessions are not patient data: no audit rows, like the service)."""

    permission_classes = [IsStaff]

    def get(self, request):
        size, number = _page(request)
        with connection.cursor() as cursor:
            cursor.execute(
                SESSIONS_SQL,
                {
                    "now": timezone.now(),
                    "clinics": tuple(clinic_ids_for_user(request.user)) or (0,),
                    "limit": size + 1,
                    "offset": (number - 1) * size,
                },
            )
            rows = cursor.fetchall()
        nxt, prev = _links(request, rows, size, number)
        keys = (
            "id",
            "clinic",
            "clinic_name",
            "program",
            "program_name",
            "series",
            "occurrence_date",
            "detached",
            "kind",
            "title",
            "starts_at",
            "ends_at",
            "location",
            "room",
            "facilitator",
            "facilitator_first_name",
            "facilitator_last_name",
            "capacity",
            "status",
            "sequence",
            "roster_count",
            "needs_attendance",
            "created_at",
            "updated_at",
        )
        results = [dict(zip(keys, row, strict=True)) for row in rows]
        return _json({"next": nxt, "previous": prev, "results": results})
