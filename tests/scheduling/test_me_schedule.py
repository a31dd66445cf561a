"""The patient's schedule, confirm and decline (API.md "The patient's app"; issue: patient view)."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from clinic.errors import Conflict
from clinic.models import AuditEvent
from programs.services import enrollments
from scheduling import services
from scheduling.api.me import ScheduleItemSerializer
from scheduling.models import RosterEntry, Session
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, app_account, client_of

pytestmark = pytest.mark.django_db

# 2026-12-01 10:00 in New York (the test clinic's zone).
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
frozen = time_machine.travel(NOW, tick=False)

ITEM_KEYS = {
    "id",
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "location",
    "status",
    "response",
    "responded_at",
}


def at(days: float, hour: int = 0) -> datetime.datetime:
    return NOW + datetime.timedelta(days=days, hours=hour)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def iop(clinic):
    return ProgramFactory(
        clinic=clinic, name="Evening IOP", level="iop", track="evening", capacity=10
    )


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Ana")


@pytest.fixture
def ben(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Ben")


@pytest.fixture
def ana_client(ana):
    return client_of(app_account(ana))


@pytest.fixture
def schedule(clinic, clinician, admissions, iop, ana, ben):
    """Ana: two program sessions (tomorrow, in 20 days) via her admission, an individual
    appointment in 3 days and one 2 days ago. Ben: an individual appointment tomorrow."""
    with frozen:
        group_soon = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(1, 8),
            program=iop,
            title="Relapse Prevention Group",
            location="Room 2, IOP wing",
        )
        group_later = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(20, 8),
            program=iop,
            title="Relapse Prevention Group",
            location="Room 2, IOP wing",
        )
        enrollments.enrollment_create(actor=admissions, patient=ana, program=iop, start_date=TODAY)
        individual = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(3),
            title="Check-in",
            kind="individual",
            patient=ana,
            location="Room 2, IOP wing",
        )
        past = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(-2),
            title="Intake",
            kind="individual",
            patient=ana,
            location="Room 2, IOP wing",
        )
        bens = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(1),
            title="Ben 1:1",
            kind="individual",
            patient=ben,
            location="Room 2, IOP wing",
        )
    return {
        "group_soon": group_soon,
        "group_later": group_later,
        "individual": individual,
        "past": past,
        "bens": bens,
    }


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


# Listing ------------------------------------------------------------------------------------------


@frozen
def test_schedule_lists_only_the_patients_sessions_from_now_to_14_days(ana_client, schedule):
    # when
    response = ana_client.get("/api/v1/me/schedule/")

    # then
    assert ids(response) == [schedule["group_soon"].pk, schedule["individual"].pk]
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    first = body["results"][0]
    assert set(first) == ITEM_KEYS
    assert first == {
        "id": schedule["group_soon"].pk,
        "title": "Relapse Prevention Group",
        "kind": "group",
        "starts_at": iso(at(1, 8)),
        "ends_at": iso(at(1, 11)),
        "location": "Room 2, IOP wing",
        "status": "scheduled",
        "response": "none",
        "responded_at": None,
    }


@frozen
def test_schedule_takes_a_range_of_dates_inclusive_of_the_end_date(ana_client, schedule):
    response = ana_client.get("/api/v1/me/schedule/", {"start": "2026-11-28", "end": "2026-12-21"})

    # 2026-12-21 is the local date of the session in 20 days (18:00 New York): included.
    assert ids(response) == [
        schedule["past"].pk,
        schedule["group_soon"].pk,
        schedule["individual"].pk,
        schedule["group_later"].pk,
    ]


@frozen
def test_schedule_takes_iso_datetimes(ana_client, schedule):
    response = ana_client.get(
        "/api/v1/me/schedule/", {"start": iso(at(2)), "end": "2026-12-22T00:00:00-05:00"}
    )

    assert ids(response) == [schedule["individual"].pk, schedule["group_later"].pk]


@frozen
def test_schedule_shows_cancelled_sessions_with_their_status(ana_client, schedule, clinician):
    services.session_cancel(actor=clinician, session=schedule["individual"])

    results = ana_client.get("/api/v1/me/schedule/").json()["results"]

    assert [(item["id"], item["status"]) for item in results] == [
        (schedule["group_soon"].pk, "scheduled"),
        (schedule["individual"].pk, "cancelled"),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "tomorrow"}, "start"),
        ({"start": "2026-13-01"}, "start"),
        ({"end": "2026-12-01T25:00"}, "end"),
        ({"start": "2026-12-10", "end": "2026-12-01"}, "end"),
        ({"start": "2026-12-01", "end": "2027-03-10"}, "end"),  # more than 92 days
    ],
)
@frozen
def test_schedule_refuses_a_bad_range_with_field_messages(ana_client, schedule, query, field):
    response = ana_client.get("/api/v1/me/schedule/", query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert body["fields"][field]


@frozen
def test_schedule_reads_are_audited_and_not_cached(ana_client, ana, schedule):
    # when
    response = ana_client.get("/api/v1/me/schedule/")

    # then
    assert "no-store" in response["Cache-Control"]
    rows = AuditEvent.objects.filter(object_type="scheduling.rosterentry", action="list")
    assert rows.count() == 2
    assert {(row.actor_id, row.patient_id, row.clinic_id) for row in rows} == {
        (ana.app_user_id, ana.pk, ana.clinic_id)
    }
    assert {row.object_id for row in rows} == {
        str(entry.pk)
        for entry in RosterEntry.objects.filter(
            patient=ana, session__in=[schedule["group_soon"], schedule["individual"]]
        )
    }


@frozen
def test_schedule_query_count_does_not_grow_with_the_sessions(
    ana_client, schedule, clinic, clinician, ana
):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            response = ana_client.get("/api/v1/me/schedule/")
        assert response.status_code == 200
        return len(captured), len(response.json()["results"])

    queries()  # the forced user object keeps its patient, clinic and roles across requests
    few = queries()
    for day in range(4, 12):
        SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(day),
            title="1:1",
            kind="individual",
            patient=ana,
            location="Room 2, IOP wing",
        )
    many = queries()

    assert few[1] == 2
    assert many[1] == 10
    # the alumni access check, the page (page_size + 1 rows, no count) and one audit INSERT
    assert few[0] == many[0] == 3


@frozen
def test_the_list_items_are_what_the_item_serializer_shows(ana_client, ana, schedule):
    # The list reads its items as rows (scheduling.api.me.SCHEDULE_ROWS): the same content
    # as ScheduleItemSerializer over the roster entries, with every field given a value.
    RosterEntry.objects.filter(patient=ana, session=schedule["individual"]).update(
        response="confirmed", responded_at=at(-1) + datetime.timedelta(microseconds=1234)
    )
    Session.objects.filter(pk=schedule["group_later"].pk).update(status="cancelled")

    response = ana_client.get("/api/v1/me/schedule/", {"start": "2026-11-01", "end": "2026-12-31"})

    entries = (
        RosterEntry.objects.filter(patient=ana)
        .select_related("session")
        .order_by("session__starts_at", "session_id")
    )
    expected = ScheduleItemSerializer(entries, many=True).data
    assert len(expected) == 4
    assert response.json()["results"] == expected
    assert {item["status"] for item in expected} == {"scheduled", "cancelled"}
    assert any(item["responded_at"] for item in expected)


@frozen
def test_the_list_pages_without_a_count(ana_client, schedule):
    window = {"start": "2026-11-01", "end": "2026-12-31", "page_size": 3}

    first = ana_client.get("/api/v1/me/schedule/", window).json()
    second = ana_client.get("/api/v1/me/schedule/", {**window, "page": 2}).json()
    last = ana_client.get("/api/v1/me/schedule/", {**window, "page": "last"}).json()

    assert len(first["results"]) == 3
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert "page=" not in second["previous"]
    assert last == second
    for page in (3, 0, "x", 2**70):
        response = ana_client.get("/api/v1/me/schedule/", {**window, "page": page})
        assert response.status_code == 404, page
    empty = ana_client.get("/api/v1/me/schedule/", {"start": "2027-03-01"})
    assert empty.json() == {"next": None, "previous": None, "results": []}


# Confirm and decline ------------------------------------------------------------------------------


@frozen
def test_confirm_sets_the_response_and_returns_the_schedule_item(ana_client, ana, schedule):
    session = schedule["group_soon"]

    response = ana_client.post(f"/api/v1/me/sessions/{session.pk}/confirm/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ITEM_KEYS
    assert (body["id"], body["response"], body["responded_at"]) == (
        session.pk,
        "confirmed",
        iso(NOW),
    )
    assert "no-store" in response["Cache-Control"]
    entry = RosterEntry.objects.get(session=session, patient=ana)
    assert (entry.response, entry.responded_at) == ("confirmed", NOW)
    assert AuditEvent.objects.filter(
        object_type="scheduling.rosterentry",
        object_id=str(entry.pk),
        action="update",
        actor_id=ana.app_user_id,
        patient_id=ana.pk,
    ).exists()


@frozen
def test_a_declined_session_shows_as_declined_on_the_staff_side(ana_client, ana, schedule):
    session = schedule["individual"]
    ana_client.post(f"/api/v1/me/sessions/{session.pk}/confirm/")

    response = ana_client.post(f"/api/v1/me/sessions/{session.pk}/decline/")

    assert response.status_code == 200, response.content
    assert response.json()["response"] == "declined"
    # What the clinician's roster reads.
    assert RosterEntry.objects.get(session=session, patient=ana).response == "declined"
    # The patient still sees the session, as declined.
    results = ana_client.get("/api/v1/me/schedule/").json()["results"]
    assert {item["id"]: item["response"] for item in results}[session.pk] == "declined"


@frozen
def test_another_patients_session_is_not_found(ana_client, ben, schedule):
    for path in ("confirm", "decline"):
        response = ana_client.post(f"/api/v1/me/sessions/{schedule['bens'].pk}/{path}/")

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert RosterEntry.objects.get(session=schedule["bens"], patient=ben).response == "none"


@frozen
def test_an_unknown_session_is_not_found(ana_client, schedule):
    assert ana_client.post("/api/v1/me/sessions/999999/confirm/").status_code == 404


@frozen
def test_a_past_session_cannot_be_confirmed(ana_client, ana, schedule):
    response = ana_client.post(f"/api/v1/me/sessions/{schedule['past'].pk}/confirm/")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert RosterEntry.objects.get(session=schedule["past"], patient=ana).response == "none"


@frozen
def test_a_cancelled_session_cannot_be_declined(ana_client, clinician, schedule):
    services.session_cancel(actor=clinician, session=schedule["individual"])

    response = ana_client.post(f"/api/v1/me/sessions/{schedule['individual'].pk}/decline/")

    assert response.status_code == 409


@frozen
def test_session_respond_rechecks_a_session_cancelled_since_it_was_read(ana, clinician, schedule):
    """BUG (scheduling.services.session_respond): it checks the status of the Session object it
    is handed instead of re-reading (and locking) the row, unlike session_move/session_cancel.
    A session cancelled between the caller's read and the call is still confirmed."""
    # given: the caller read the session, then a clinician cancelled it
    stale = Session.objects.get(pk=schedule["individual"].pk)
    services.session_cancel(actor=clinician, session=schedule["individual"])

    # when / then
    with pytest.raises(Conflict):
        services.session_respond(
            actor=ana.app_user, session=stale, patient=ana, response="confirmed"
        )


# Who may ---------------------------------------------------------------------------------------


@frozen
def test_staff_get_403_on_the_patients_endpoints(client_for, clinician, supervisor, schedule):
    for user in (clinician, supervisor):
        client = client_for(user)
        assert client.get("/api/v1/me/schedule/").status_code == 403
        response = client.post(f"/api/v1/me/sessions/{schedule['group_soon'].pk}/confirm/")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


@frozen
def test_a_staff_member_linked_to_a_patient_record_is_still_refused(client_for, clinician, ana):
    ana.app_user = clinician
    ana.save(update_fields=["app_user"])

    assert client_for(clinician).get("/api/v1/me/schedule/").status_code == 403


@frozen
def test_a_patient_gets_403_on_staff_endpoints(ana_client, schedule):
    for path in ("/api/v1/patients/", "/api/v1/enrollments/", "/api/v1/calendar-feed/"):
        assert ana_client.get(path).status_code == 403, path


def test_an_account_without_a_patient_gets_403_and_no_token_401(client_for, user_without_role):
    assert client_for(user_without_role).get("/api/v1/me/schedule/").status_code == 403
    assert APIClient().get("/api/v1/me/schedule/").status_code == 401
    assert APIClient().post("/api/v1/me/sessions/1/confirm/").status_code == 401


# The list's own reads: the range without a serializer, the page in one prebuilt statement -------

WINDOW_QUERIES = [
    {},
    {"start": "2026-12-01"},
    {"start": "2026-12-01", "end": "2026-12-31"},
    {"end": "2026-12-05"},
    {"start": "", "end": ""},
    {"start": " 2026-12-01 "},
    {"start": "2026-12-01T09:00:00Z", "end": "2026-12-02T09:00"},
    {"start": "2026-12-01T09:00:00 05:00"},  # an unescaped "+"
    {"start": "2026-12-01T09:00:00.5-03:00", "end": "2027-03-02"},
    {"start": ["2026-12-05", "2026-12-01"]},  # the last value, as the serializer reads it
    {"start": "9999-12-30", "end": "9999-12-31"},
    {"start": "tomorrow"},
    {"start": "2026-13-01"},
    {"end": "2026-12-01T25:00"},
    {"start": "2026-12-10", "end": "2026-12-01"},
    {"start": "2026-12-01", "end": "2027-03-10"},
    {"start": "2026-12-01 09:00"},
    {"start": "20261201"},
    {"start": " "},
]


@pytest.mark.parametrize("query", WINDOW_QUERIES)
@frozen
def test_schedule_window_is_what_the_query_serializer_validates(query):
    from django.http import QueryDict
    from rest_framework.exceptions import ValidationError

    from scheduling.api.me import ScheduleQuerySerializer, schedule_window

    params = QueryDict(mutable=True)
    for name, value in query.items():
        params.setlist(name, value if isinstance(value, list) else [value])
    zone = datetime.timezone(datetime.timedelta(hours=-5))
    serializer = ScheduleQuerySerializer(data=params, context={"zone": zone})
    if serializer.is_valid():
        assert schedule_window(params, zone) == serializer.validated_data
    else:
        with pytest.raises(ValidationError) as refused:
            schedule_window(params, zone)
        assert refused.value.detail == serializer.errors


@frozen
def test_a_valid_range_builds_no_serializer(ana_client, schedule, monkeypatch):
    from scheduling.api import me

    def refuse(*args, **kwargs):
        raise AssertionError("ScheduleQuerySerializer built for a valid range")

    monkeypatch.setattr(me.ScheduleQuerySerializer, "__init__", refuse)
    response = ana_client.get("/api/v1/me/schedule/", {"start": "2026-11-01", "end": "2026-12-31"})
    assert len(ids(response)) == 4


@frozen
def test_the_schedule_rows_are_the_entries_of_the_window_in_one_query(
    ana, clinic, clinician, schedule
):
    from scheduling.api.me import SCHEDULE_ROWS
    from scheduling.selectors import schedule_entries

    # Ties on the start time are ordered by session id.
    for title in ("A", "B", "C"):
        SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(5),
            title=title,
            kind="individual",
            patient=ana,
            location="Room 2, IOP wing",
        )
    start, end = at(-30), at(30)
    entries = schedule_entries(patient=ana, start=start, end=end)
    rows = SCHEDULE_ROWS.values_list(entries)

    assert len(rows) == 7
    assert [row[0] for row in rows] == [entry.session_id for entry in entries]
    ties = [row[0] for row in rows if row[3] == at(5)]
    assert len(ties) == 3
    assert ties == sorted(ties)
    assert not schedule_entries(patient=ana, start=at(1, 12), end=at(2)).exists()
    with CaptureQueriesContext(connection) as queries:
        assert len(SCHEDULE_ROWS.values_list(entries)[0:3]) == 3
    assert len(queries) == 1
