"""The session list: its rows, filters, pages, query count and clinic scoping, and the plain
statement under it."""

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent, Room
from scheduling import selectors, services
from scheduling.api.serializers import SessionSerializer
from scheduling.models import RosterEntry, Session
from tests.factories import SessionFactory, staff_user
from tests.scheduling.sessions_api.helpers import NOW, SESSIONS, TODAY, at, ids, iso

pytestmark = pytest.mark.django_db


def test_the_list_rows_are_what_the_session_serializer_shows(
    calendar, client_for, clinician, clinic
):
    # The list reads its rows in SQL (selectors.SessionPage, serializers.SESSION_ROWS): the same
    # content as SessionSerializer over session_list, with every field given a value
    # (a room, an occurrence date, a capacity, a facilitator known only by username).
    nameless = get_user_model().objects.create_user(username="nameless-1")
    room = Room.objects.create(clinic=clinic, name="Room 2")
    Session.objects.filter(pk=calendar["other"].pk).update(
        room=room,
        facilitator=nameless,
        occurrence_date=TODAY,
        capacity=8,
        updated_at=at(hours=-1) + datetime.timedelta(microseconds=5),
    )
    Session.objects.filter(pk=calendar["tomorrow"].pk).update(status="cancelled", detached=True)

    for params in ({}, {"needs_attendance": "true"}, {"ordering": "-starts_at"}):
        # (the needs_attendance filter keeps the default ordering)
        results = client_for(clinician).get(SESSIONS, {"page_size": 200, **params}).json()
        sessions = selectors.session_list(user=clinician)
        if params.get("needs_attendance"):
            sessions = sessions.filter(needs_attendance=True)
        ordering = [params["ordering"]] if "ordering" in params else ["starts_at", "id"]
        sessions = sessions.order_by(*ordering)
        expected = SessionSerializer(sessions, many=True).data
        assert results["results"] == expected, params
    assert {row["facilitator_name"] for row in expected} >= {"nameless-1", None}


def test_the_list_pages_without_a_count(calendar, client_for, clinician):
    client = client_for(clinician)
    everything = ids(client.get(SESSIONS, {"page_size": 200}))

    first = client.get(SESSIONS, {"page_size": 3}).json()
    second = client.get(SESSIONS, {"page_size": 3, "page": 2}).json()

    assert [row["id"] for row in first["results"] + second["results"]] == everything
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert second["next"] is None
    assert "page=" not in second["previous"]
    assert client.get(SESSIONS, {"page_size": 3, "page": "last"}).json() == second
    for page in (3, 0, "x"):
        assert client.get(SESSIONS, {"page_size": 3, "page": page}).status_code == 404, page


def test_the_list_filters_by_program(calendar, client_for, admissions, iop):
    response = client_for(admissions).get(SESSIONS, {"program": iop.pk})

    assert ids(response) == [calendar["past"].pk, calendar["tomorrow"].pk]


def test_the_list_filters_by_patient_through_the_roster_and_audits_it(
    calendar, client_for, supervisor, patients
):
    response = client_for(supervisor).get(SESSIONS, {"patient": patients[2].pk})

    assert ids(response) == [calendar["appointment"].pk]
    assert response["Cache-Control"].count("no-store") == 1
    assert (
        AuditEvent.objects.filter(
            actor=supervisor, action=AuditAction.LIST, patient_id=patients[2].pk
        ).count()
        == 1
    )


def test_the_list_filters_by_clinician(calendar, client_for, admissions, supervisor):
    response = client_for(admissions).get(SESSIONS, {"clinician": supervisor.pk})

    assert ids(response) == [calendar["appointment"].pk]


def test_the_list_filters_by_a_range_of_instants_or_local_dates(calendar, client_for, clinician):
    client = client_for(clinician)

    by_instant = client.get(
        SESSIONS, {"starts_after": iso(at(days=1)), "starts_before": iso(at(days=3))}
    )
    # Sessions start at 10:00 New York; the local dates 2026-12-02 and 2026-12-03.
    by_date = client.get(SESSIONS, {"starts_after": "2026-12-02", "starts_before": "2026-12-04"})
    naive = client.get(SESSIONS, {"starts_after": "2026-12-02T10:00:00"})

    assert ids(by_instant) == [calendar["tomorrow"].pk, calendar["appointment"].pk]
    assert ids(by_date) == [calendar["tomorrow"].pk, calendar["appointment"].pk]
    assert naive.status_code == 400
    assert list(naive.json()["fields"]) == ["starts_after"]


def test_the_list_filters_by_status(calendar, client_for, clinician):
    services.session_cancel(actor=clinician, session=calendar["other"])

    response = client_for(clinician).get(SESSIONS, {"status": "cancelled"})

    assert ids(response) == [calendar["other"].pk]


def test_sessions_ended_without_attendance_are_marked_and_filterable(
    calendar, client_for, clinician, enrolled
):
    client = client_for(clinician)

    rows = {row["id"]: row for row in client.get(SESSIONS).json()["results"]}
    due = client.get(SESSIONS, {"needs_attendance": "true"})

    assert rows[calendar["past"].pk]["needs_attendance"] is True
    assert rows[calendar["past"].pk]["roster_count"] == 2
    assert [rows[s.pk]["needs_attendance"] for s in calendar.values() if s != calendar["past"]] == [
        False
    ] * 3
    assert ids(due) == [calendar["past"].pk]

    # Once everyone's attendance is recorded, the mark goes.
    for patient in enrolled:
        services.attendance_record(
            actor=clinician, session=calendar["past"], patient=patient, status="present"
        )
    assert ids(client.get(SESSIONS, {"needs_attendance": "true"})) == []
    assert client.get(SESSIONS, {"needs_attendance": "false"}).json()["results"]


def test_a_partly_recorded_session_still_needs_attendance(
    calendar, client_for, clinician, enrolled
):
    services.attendance_record(
        actor=clinician, session=calendar["past"], patient=enrolled[0], status="present"
    )

    assert ids(client_for(clinician).get(SESSIONS, {"needs_attendance": "true"})) == [
        calendar["past"].pk
    ]


def test_a_cancelled_past_session_does_not_need_attendance(calendar, client_for, clinician):
    Session.objects.filter(pk=calendar["past"].pk).update(status="cancelled")

    assert ids(client_for(clinician).get(SESSIONS, {"needs_attendance": "true"})) == []


def test_the_list_query_count_does_not_grow_with_the_page_size(
    frozen_time, client_for, clinician, clinic, iop, enrolled
):
    # given: 70 sessions with rosters
    series = services.series_create(
        actor=clinician,
        clinic=clinic,
        program=iop,
        title="Daily",
        weekdays=[1, 2, 3, 4, 5, 6, 7],
        local_start_time=datetime.time(18),
        duration_minutes=180,
        starts_on=TODAY,
        ends_on=TODAY + datetime.timedelta(days=69),
    )
    sessions = services.series_materialize(series=series, until=series.ends_on)
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=s, patient=p) for s in sessions for p in enrolled]
    )
    client = client_for(clinician)
    client.get(SESSIONS, {"page_size": 1})  # warm the user's cached roles and clinics

    def queries_for(page_size):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(SESSIONS, {"page_size": page_size})
        assert len(response.json()["results"]) == min(page_size, 70)
        return len(captured)

    # then: one query, the page's ids and its rows (the user's roles and clinics are cached on
    # the user)
    assert [queries_for(1), queries_for(50), queries_for(200)] == [1, 1, 1]
    with CaptureQueriesContext(connection) as captured:
        client.get(SESSIONS, {"page_size": 50})
    [query] = (query["sql"] for query in captured)
    # No COUNT of the whole list; the page is cut on the sessions alone (its ids, inlined), and
    # the roster counts and attendance probes run for the page's rows only.
    assert "count(*) as" not in query.lower()
    ids = query[query.index("ARRAY(") : query.index(") AS ids")]
    assert "rosterentry" not in ids
    assert "LIMIT 51" in ids


def test_another_clinics_session_is_not_found_and_not_listed(
    calendar, client_for, stranger, clinician
):
    session = calendar["tomorrow"]
    client = client_for(stranger)

    assert client.get(SESSIONS).json()["results"] == []
    assert client.get(f"{SESSIONS}{session.pk}/").status_code == 404
    assert client.get(f"{SESSIONS}{session.pk}/attendance/").status_code == 404
    assert client.patch(f"{SESSIONS}{session.pk}/", {"location": "x"}).status_code == 404
    assert client.post(f"{SESSIONS}{session.pk}/cancel/").status_code == 404
    assert client_for(clinician).get(f"{SESSIONS}{session.pk}/").status_code == 200


@pytest.mark.parametrize("clinics", [1, 2])
def test_the_page_statement_reads_the_rows_of_the_orm_querys_ids_in_order(
    clinic, other_clinic, clinician, clinics
):
    # The list's ids go through the ORM (filters, ordering, the page's slice); SessionPage reads
    # their rows in one statement, in the ids' order: ties of start time broken by id, clinics
    # mixed in start order, past the end empty.
    scope = [clinic, other_clinic][:clinics]
    user = staff_user(role="clinician", clinics=scope)
    for n in range(7):
        for place in scope:
            SessionFactory(
                clinic=place, actor=clinician, starts_at=at(days=n % 3, hours=n), title=f"S{n}"
            )

    ids = selectors.session_list_for_page(user=user).order_by("starts_at", "id")
    ids = ids.values_list("id", flat=True)
    page = selectors.SessionPage(ids)
    for size in (1, 3, 5, 50):
        for start in range(0, 16, size):
            window = slice(start, start + size)
            assert [row[0] for row in page[window]] == list(ids[window]), (size, start)
    assert len(page[0:50]) == 7 * clinics
    assert page.count() == 7 * clinics


@time_machine.travel(NOW, tick=False)
def test_the_list_takes_its_filters_and_ordering(client_for, clinic, clinician):
    early = SessionFactory(clinic=clinic, actor=clinician, starts_at=at(days=1), title="Early")
    late = SessionFactory(clinic=clinic, actor=clinician, starts_at=at(days=2), title="Late")
    Session.objects.filter(pk=late.pk).update(status="cancelled")
    client = client_for(clinician)

    def ids(**params):
        response = client.get(SESSIONS, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [early.pk, late.pk]
    assert ids(page_size=1, page=2) == [late.pk]
    assert ids(ordering="-starts_at") == [late.pk, early.pk]
    assert ids(status="cancelled") == [late.pk]
