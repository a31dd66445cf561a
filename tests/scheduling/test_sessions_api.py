"""Sessions, series, rosters and attendance over the API (API.md "Sessions, rosters, attendance";
DESIGN.md "Invariants", "API outer contract")."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent, Room
from patients import services as patient_services
from programs.models import LEVEL_DEFAULTS, Program
from programs.services import enrollments
from scheduling import selectors, services
from scheduling.api.serializers import SessionSerializer
from scheduling.models import Attendance, Reminder, RosterEntry, Series, Session
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC
# Tuesday 2026-12-01, 10:00 in New York (the test clinic's zone).
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=UTC)
TODAY = datetime.date(2026, 12, 1)

SESSIONS = "/api/v1/sessions/"
SERIES = "/api/v1/series/"


def at(days: float = 0, hours: float = 0) -> datetime.datetime:
    return NOW + datetime.timedelta(days=days, hours=hours)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def make_program(clinic, level="iop", name="Evening IOP", **overrides):
    fields = {**LEVEL_DEFAULTS[level], "clinic": clinic, "name": name, "level": level}
    fields.setdefault("capacity", 10)
    return Program.objects.create(**{**fields, **overrides})


_names = iter(range(1, 10_000))


def make_patient(clinic, actor, first_name=None):
    n = next(_names)
    return patient_services.patient_create(
        actor=actor,
        clinic=clinic,
        first_name=first_name or f"Pat{n}",
        last_name="Rivera",
        date_of_birth=datetime.date(1980, 1, 1) + datetime.timedelta(days=n),
    )


def make_session(actor, clinic, start=None, hours=3, **fields):
    start = start or at(days=1)
    fields.setdefault("title", "Relapse prevention")
    fields.setdefault("kind", "group")
    return services.session_create(
        actor=actor,
        clinic=clinic,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=hours),
        **fields,
    )


def body(program=None, start=None, hours=3, **extra):
    start = start or at(days=1)
    data = {
        "title": "Relapse prevention",
        "kind": "group",
        "starts_at": iso(start),
        "ends_at": iso(start + datetime.timedelta(hours=hours)),
        "location": "Group room A",
        **extra,
    }
    if program is not None:
        data["program"] = program.pk
    return data


@pytest.fixture
def iop(clinic):
    return make_program(clinic)


@pytest.fixture
def room(clinic):
    return Room.objects.create(clinic=clinic, name="Room 1")


@pytest.fixture
def patients(clinic, admissions):
    return [make_patient(clinic, admissions, name) for name in ("Ana", "Ben", "Cy")]


@pytest.fixture
def enrolled(frozen_time, admissions, iop, patients):
    for patient in patients[:2]:
        enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=TODAY
        )
    return patients[:2]


@pytest.fixture
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def stranger(other_clinic):
    return staff_user(role="clinician", clinics=[other_clinic])


# Creating sessions ----------------------------------------------------------------------------


def test_a_clinician_creates_a_program_session_whose_roster_is_the_enrolled_patients(
    frozen_time, client_for, clinician, iop, enrolled
):
    # when
    response = client_for(clinician).post(SESSIONS, body(iop), format="json")

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert {k: data[k] for k in ["program", "title", "kind", "location", "status"]} == {
        "program": iop.pk,
        "title": "Relapse prevention",
        "kind": "group",
        "location": "Group room A",
        "status": "scheduled",
    }
    assert parse(data["starts_at"]) == at(days=1)
    assert data["clinic"] == iop.clinic_id
    assert data["time_zone"] == "America/New_York"
    assert data["roster_count"] == 2
    assert data["needs_attendance"] is False
    assert set(
        RosterEntry.objects.filter(session_id=data["id"]).values_list("patient_id", flat=True)
    ) == {p.pk for p in enrolled}


def test_a_supervisor_creates_a_session_too(frozen_time, client_for, supervisor, iop):
    assert client_for(supervisor).post(SESSIONS, body(iop), format="json").status_code == 201


def test_a_session_ending_before_it_starts_is_a_400(frozen_time, client_for, clinician, iop):
    data = body(iop)
    data["ends_at"] = iso(at(days=1, hours=-1))

    response = client_for(clinician).post(SESSIONS, data, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"ends_at": ["A session ends after it starts."]}
    assert not Session.objects.exists()


def test_an_individual_appointment_rosters_its_patient_with_the_caller_as_clinician(
    frozen_time, client_for, clinician, patients
):
    response = client_for(clinician).post(
        SESSIONS,
        body(title="Check-in", kind="individual", patient=patients[0].pk),
        format="json",
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["facilitator"] == clinician.pk
    assert data["capacity"] == 1
    assert data["roster_count"] == 1
    assert RosterEntry.objects.get(session_id=data["id"]).patient == patients[0]


def test_a_double_booked_clinician_is_a_409(frozen_time, client_for, clinician, supervisor):
    client = client_for(supervisor)
    first = client.post(SESSIONS, body(facilitator=clinician.pk), format="json")
    assert first.status_code == 201

    # An hour into the first one.
    response = client.post(
        SESSIONS, body(start=at(days=1, hours=1), facilitator=clinician.pk), format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "code": "clinician_double_booked",
        "detail": "The clinician has another session at that time.",
        "fields": {},
    }
    assert Session.objects.count() == 1


def test_a_double_booked_room_is_a_409_but_back_to_back_is_fine(
    frozen_time, client_for, clinician, room
):
    client = client_for(clinician)
    assert client.post(SESSIONS, body(room=room.pk), format="json").status_code == 201

    overlapping = client.post(SESSIONS, body(start=at(days=1, hours=2), room=room.pk))
    back_to_back = client.post(SESSIONS, body(start=at(days=1, hours=3), room=room.pk))

    assert overlapping.status_code == 409
    assert overlapping.json()["code"] == "room_double_booked"
    assert overlapping.json()["detail"] == "The room is booked for another session at that time."
    assert back_to_back.status_code == 201


def test_a_cancelled_session_frees_its_clinician(frozen_time, client_for, clinician, supervisor):
    client = client_for(supervisor)
    first = client.post(SESSIONS, body(facilitator=clinician.pk)).json()
    assert client.post(f"{SESSIONS}{first['id']}/cancel/").status_code == 200

    assert client.post(SESSIONS, body(facilitator=clinician.pk)).status_code == 201


def test_references_must_be_the_callers_clinics(
    frozen_time, client_for, clinician, other_clinic, admissions
):
    foreign_program = make_program(other_clinic, name="Elsewhere")
    foreign_room = Room.objects.create(clinic=other_clinic, name="Far room")

    response = client_for(clinician).post(
        SESSIONS, body(foreign_program, room=foreign_room.pk), format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"program", "room"}


def test_references_to_two_clinics_are_refused(frozen_time, client_for, clinic, other_clinic, iop):
    both = staff_user(role="clinician", clinics=[clinic, other_clinic])
    far_room = Room.objects.create(clinic=other_clinic, name="Far room")

    response = client_for(both).post(SESSIONS, body(iop, room=far_room.pk), format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["room"]


# Listing and filtering ------------------------------------------------------------------------


@pytest.fixture
def calendar(frozen_time, clinician, supervisor, iop, patients, enrolled, clinic):
    """Last week's ended group (roster, no attendance), tomorrow's group, an individual
    appointment of a third patient with the supervisor, and an outpatient session."""
    outpatient = make_program(clinic, "outpatient", name="Outpatient")
    past = make_session(clinician, clinic, start=at(days=-7), program=iop, facilitator=clinician)
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=past, patient=patient) for patient in enrolled]
    )
    tomorrow = make_session(clinician, clinic, start=at(days=1), program=iop)
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=tomorrow, patient=patient) for patient in enrolled]
    )
    appointment = make_session(
        supervisor,
        clinic,
        start=at(days=2),
        hours=1,
        kind="individual",
        title="Check-in",
        patient=patients[2],
        facilitator=supervisor,
    )
    other = make_session(clinician, clinic, start=at(days=3), program=outpatient)
    return {"past": past, "tomorrow": tomorrow, "appointment": appointment, "other": other}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


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


# Roles ----------------------------------------------------------------------------------------


def test_admissions_reads_sessions_but_cannot_plan_them(calendar, client_for, admissions, iop):
    client = client_for(admissions)
    session = calendar["tomorrow"]

    assert client.get(SESSIONS).status_code == 200
    assert client.get(f"{SESSIONS}{session.pk}/").status_code == 200
    assert client.post(SESSIONS, body(iop)).status_code == 403
    assert client.patch(f"{SESSIONS}{session.pk}/", {"location": "x"}).status_code == 403
    assert client.post(f"{SESSIONS}{session.pk}/cancel/").status_code == 403
    assert client.post(SERIES, {}).status_code == 403


def test_a_user_without_a_role_gets_403(calendar, client_for, user_without_role, iop):
    client = client_for(user_without_role)

    assert client.get(SESSIONS).status_code == 403
    assert client.get(SERIES).status_code == 403
    assert client.post(SESSIONS, body(iop)).status_code == 403


def test_no_token_is_a_401(api_client):
    assert api_client.get(SESSIONS).status_code == 401


# Moving, cancelling, series edits -------------------------------------------------------------


def test_moving_a_session_keeps_its_length_and_bumps_its_sequence(
    calendar, client_for, clinician, room
):
    session = calendar["tomorrow"]

    response = client_for(clinician).patch(
        f"{SESSIONS}{session.pk}/",
        {"starts_at": iso(at(days=1, hours=2)), "location": "Annex", "room": room.pk},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert parse(data["starts_at"]) == at(days=1, hours=2)
    assert parse(data["ends_at"]) == at(days=1, hours=5)
    assert (data["location"], data["room"], data["sequence"]) == ("Annex", room.pk, 1)


def test_a_move_refuses_unknown_fields_and_another_clinics_room(
    calendar, client_for, clinician, other_clinic
):
    session = calendar["tomorrow"]
    far_room = Room.objects.create(clinic=other_clinic, name="Far room")
    client = client_for(clinician)

    unknown = client.patch(f"{SESSIONS}{session.pk}/", {"title": "New"}, format="json")
    far = client.patch(f"{SESSIONS}{session.pk}/", {"room": far_room.pk}, format="json")
    empty = client.patch(f"{SESSIONS}{session.pk}/", {}, format="json")

    assert (unknown.status_code, list(unknown.json()["fields"])) == (400, ["title"])
    assert (far.status_code, list(far.json()["fields"])) == (400, ["room"])
    assert empty.status_code == 400


def test_moving_onto_a_clinicians_other_session_is_a_409(
    frozen_time, client_for, clinician, clinic
):
    make_session(clinician, clinic, start=at(days=1), facilitator=clinician)
    later = make_session(clinician, clinic, start=at(days=2), facilitator=clinician)

    response = client_for(clinician).patch(
        f"{SESSIONS}{later.pk}/", {"starts_at": iso(at(days=1, hours=1))}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "clinician_double_booked"


def test_cancelling_a_session(calendar, client_for, clinician):
    session = calendar["tomorrow"]
    client = client_for(clinician)

    response = client.post(f"{SESSIONS}{session.pk}/cancel/")
    again = client.post(f"{SESSIONS}{session.pk}/cancel/")
    moved = client.patch(f"{SESSIONS}{session.pk}/", {"location": "x"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert moved.status_code == 409


@pytest.fixture
def weekly(frozen_time, clinician, clinic):
    """A Tuesday/Thursday series at 18:00 New York, from a week ago for four weeks: two past
    occurrences, six future ones."""
    series = services.series_create(
        actor=clinician,
        clinic=clinic,
        title="Skills group",
        weekdays=[2, 4],
        local_start_time=datetime.time(18),
        duration_minutes=120,
        starts_on=TODAY - datetime.timedelta(days=7),
        ends_on=TODAY + datetime.timedelta(days=20),
        location="Hall",
    )
    services.series_materialize(series=series)
    return series


def occurrences_of(series) -> list[Session]:
    return list(Session.objects.filter(series=series).order_by("occurrence_date"))


def local_start(session) -> datetime.time:
    return session.starts_at.astimezone(NY).time()


def test_editing_this_occurrence_detaches_it(weekly, client_for, clinician):
    target = occurrences_of(weekly)[3]

    response = client_for(clinician).patch(
        f"{SESSIONS}{target.pk}/",
        {"scope": "this", "local_start_time": "17:00", "title": "Skills (moved)"},
        format="json",
    )

    assert response.status_code == 200, response.content
    after = occurrences_of(weekly)
    assert [local_start(s) for s in after] == [datetime.time(18)] * 3 + [datetime.time(17)] + [
        datetime.time(18)
    ] * 4
    assert after[3].detached
    assert after[3].title == "Skills (moved)"
    weekly.refresh_from_db()
    assert weekly.local_start_time == datetime.time(18)


def test_editing_this_and_the_following_leaves_past_and_earlier_ones(weekly, client_for, clinician):
    before = occurrences_of(weekly)
    # One later occurrence was moved on its own: it keeps its time.
    services.session_move(
        actor=clinician,
        session=before[6],
        starts_at=before[6].starts_at + datetime.timedelta(hours=1),
        ends_at=before[6].ends_at + datetime.timedelta(hours=1),
    )

    response = client_for(clinician).patch(
        f"{SESSIONS}{before[4].pk}/",
        {"scope": "following", "local_start_time": "19:30", "duration_minutes": 90},
        format="json",
    )

    assert response.status_code == 200, response.content
    after = occurrences_of(weekly)
    assert [local_start(s) for s in after] == [
        datetime.time(18),  # past
        datetime.time(18),  # past
        datetime.time(18),  # future, before the edited one
        datetime.time(18),
        datetime.time(19, 30),
        datetime.time(19, 30),
        datetime.time(19),  # moved on its own
        datetime.time(19, 30),
    ]
    assert after[5].ends_at - after[5].starts_at == datetime.timedelta(minutes=90)
    weekly.refresh_from_db()
    assert (weekly.local_start_time, weekly.duration_minutes) == (datetime.time(19, 30), 90)


def test_editing_all_changes_only_future_occurrences(weekly, client_for, clinician):
    before = occurrences_of(weekly)

    response = client_for(clinician).patch(
        f"{SESSIONS}{before[5].pk}/", {"scope": "all", "location": "Annex"}, format="json"
    )

    assert response.status_code == 200, response.content
    after = occurrences_of(weekly)
    assert [s.location for s in after] == ["Hall"] * 2 + ["Annex"] * 6
    assert [s.sequence for s in after] == [0] * 2 + [1] * 6


def test_a_series_edit_refuses_a_bad_scope_and_a_one_off_session(
    weekly, calendar, client_for, clinician
):
    client = client_for(clinician)
    target = occurrences_of(weekly)[3]

    bad_scope = client.patch(
        f"{SESSIONS}{target.pk}/", {"scope": "some", "title": "x"}, format="json"
    )
    mixed = client.patch(
        f"{SESSIONS}{target.pk}/", {"scope": "all", "starts_at": iso(at(days=1))}, format="json"
    )
    one_off = client.patch(
        f"{SESSIONS}{calendar['tomorrow'].pk}/", {"scope": "all", "title": "x"}, format="json"
    )

    assert (bad_scope.status_code, list(bad_scope.json()["fields"])) == (400, ["scope"])
    assert (mixed.status_code, list(mixed.json()["fields"])) == (400, ["starts_at"])
    assert (one_off.status_code, list(one_off.json()["fields"])) == (400, ["scope"])


def test_a_series_edit_of_a_programs_series_keeps_the_programs_session_length(
    frozen_time, client_for, clinician, iop
):
    created = client_for(clinician).post(SERIES, series_body(iop), format="json").json()
    session = Session.objects.filter(series_id=created["id"]).first()

    response = client_for(clinician).patch(
        f"{SESSIONS}{session.pk}/", {"scope": "all", "duration_minutes": 300}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]


def test_editing_only_the_title_of_a_moved_occurrence_keeps_its_time(weekly, client_for, clinician):
    """Bug in scheduling.services.series_edit: with scope "this" and no new time it recomputes
    the start from the series' pattern and the occurrence date, undoing an earlier move."""
    target = occurrences_of(weekly)[3]
    moved_to = target.starts_at + datetime.timedelta(days=1, hours=-2)
    services.session_move(
        actor=clinician,
        session=target,
        starts_at=moved_to,
        ends_at=moved_to + datetime.timedelta(hours=2),
    )

    response = client_for(clinician).patch(
        f"{SESSIONS}{target.pk}/", {"scope": "this", "title": "Skills (renamed)"}, format="json"
    )

    assert response.status_code == 200
    target.refresh_from_db()
    assert target.title == "Skills (renamed)"
    assert target.starts_at == moved_to


# Series ---------------------------------------------------------------------------------------


def series_body(program=None, **overrides):
    data = {
        "title": "Evening group",
        "kind": "group",
        "weekdays": [1, 3, 5],
        "local_start_time": "18:00",
        "duration_minutes": 180,
        "starts_on": "2026-12-07",
        "ends_on": "2026-12-20",
        "location": "Group room A",
        **overrides,
    }
    if program is not None:
        data["program"] = program.pk
    return data


def test_an_iop_series_meeting_twice_a_week_is_refused_naming_the_cadence(
    frozen_time, client_for, clinician, iop
):
    response = client_for(clinician).post(SERIES, series_body(iop, weekdays=[1, 3]), format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["weekdays"]
    assert "3–5 times a week" in response.json()["detail"]
    assert not Series.objects.exists()


def test_an_iop_series_of_five_hour_sessions_is_refused_naming_the_length(
    frozen_time, client_for, clinician, iop
):
    response = client_for(clinician).post(
        SERIES, series_body(iop, duration_minutes=300), format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]
    message = response.json()["fields"]["duration_minutes"][0]
    assert "sessions last 3" in message
    assert "hours; this series gives 5" in message
    assert not Series.objects.exists()


def test_a_series_outside_a_programs_one_sided_length_bound_is_a_400(
    frozen_time, client_for, clinician, clinic
):
    """Bug in programs.services.schedules.check_series_against_program: a program with only a
    maximum session length formats the missing minimum with ``:g`` and raises TypeError (500)."""
    program = make_program(clinic, name="Short groups", session_hours_min=None)

    response = client_for(clinician).post(
        SERIES, series_body(program, duration_minutes=300), format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]


def test_a_valid_iop_series_creates_its_sessions_and_rosters(
    frozen_time, client_for, clinician, iop, enrolled, room
):
    response = client_for(clinician).post(
        SERIES, series_body(iop, room=room.pk, facilitator=clinician.pk), format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()
    # Mon/Wed/Fri from 2026-12-07 to 2026-12-20: six sessions.
    assert data["sessions_created"] == 6
    assert (data["program"], data["weekdays"], data["local_start_time"]) == (
        iop.pk,
        [1, 3, 5],
        "18:00:00",
    )
    sessions = Session.objects.filter(series_id=data["id"])
    assert sessions.count() == 6
    assert {local_start(s) for s in sessions} == {datetime.time(18)}
    assert {(s.room_id, s.facilitator_id) for s in sessions} == {(room.pk, clinician.pk)}
    assert RosterEntry.objects.filter(session__in=sessions).count() == 12
    assert set(RosterEntry.objects.values_list("patient_id", flat=True)) == {p.pk for p in enrolled}


def test_a_series_without_a_program_is_created_and_expanded(
    frozen_time, client_for, supervisor, clinic
):
    response = client_for(supervisor).post(
        SERIES, series_body(kind="education", weekdays=[2]), format="json"
    )

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["clinic"], data["program"], data["sessions_created"]) == (clinic.pk, None, 2)
    assert client_for(supervisor).get(SERIES).json()["results"][0]["id"] == data["id"]
    listed = client_for(supervisor).get(SESSIONS, {"series": data["id"]}).json()["results"]
    assert [row["kind"] for row in listed] == ["education", "education"]


def test_a_series_whose_sessions_double_book_a_room_is_a_409_and_leaves_nothing(
    frozen_time, client_for, clinician, clinic, room
):
    # Monday 2026-12-07 19:00 New York, in the middle of the series' first session.
    start = datetime.datetime(2026, 12, 7, 19, tzinfo=NY)
    make_session(clinician, clinic, start=start, room=room)

    response = client_for(clinician).post(SERIES, series_body(room=room.pk), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "room_double_booked"
    assert not Series.objects.exists()


def test_another_clinics_series_is_not_found(weekly, client_for, stranger):
    assert client_for(stranger).get(f"{SERIES}{weekly.pk}/").status_code == 404
    assert client_for(stranger).get(SERIES).json()["results"] == []


# Attendance -----------------------------------------------------------------------------------


@pytest.fixture
def started(frozen_time, clinician, clinic, iop, enrolled):
    """A program session that began half an hour ago, both enrolled patients on its roster,
    the second one having declined in the app."""
    session = make_session(clinician, clinic, start=at(hours=-0.5), program=iop)
    RosterEntry.objects.bulk_create(
        [RosterEntry(session=session, patient=patient) for patient in enrolled]
    )
    RosterEntry.objects.filter(session=session, patient=enrolled[1]).update(response="declined")
    return session


def test_the_attendance_roster_shows_answers_and_recorded_attendance(
    started, client_for, clinician, enrolled
):
    services.attendance_record(actor=clinician, session=started, patient=enrolled[0], status="late")

    response = client_for(clinician).get(f"{SESSIONS}{started.pk}/attendance/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    rows = response.json()["results"]
    assert [
        (r["patient"], r["patient_name"], r["response"], r["status"], r["recorded_by"])
        for r in rows
    ] == [
        (enrolled[0].pk, "Ana Rivera", "none", "late", clinician.username),
        (enrolled[1].pk, "Ben Rivera", "declined", None, None),
    ]
    assert parse(rows[0]["checked_in_at"]) == NOW
    assert rows[1]["checked_in_at"] is None


def test_reading_the_roster_is_audited_per_patient(started, client_for, admissions, enrolled):
    client_for(admissions).get(f"{SESSIONS}{started.pk}/attendance/")

    rows = AuditEvent.objects.filter(actor=admissions, action=AuditAction.LIST)
    assert sorted(rows.values_list("patient_id", flat=True)) == sorted(p.pk for p in enrolled)
    assert set(rows.values_list("object_type", flat=True)) == {"scheduling.rosterentry"}


def test_recording_then_correcting_attendance(started, client_for, admissions, enrolled):
    client = client_for(admissions)  # the front desk checks people in
    url = f"{SESSIONS}{started.pk}/attendance/"

    first = client.post(url, {"patient": enrolled[0].pk, "status": "present"}, format="json")
    corrected = client.post(url, {"patient": enrolled[0].pk, "status": "excused"}, format="json")

    assert first.status_code == 201, first.content
    assert (first.json()["status"], parse(first.json()["checked_in_at"])) == ("present", NOW)
    assert corrected.status_code == 200
    assert (corrected.json()["status"], corrected.json()["checked_in_at"]) == ("excused", None)
    attendance = Attendance.objects.get()
    assert (attendance.status, attendance.recorded_by) == ("excused", admissions)
    assert list(
        AuditEvent.objects.filter(object_type="scheduling.attendance")
        .order_by("id")
        .values_list("action", "patient_id")
    ) == [(AuditAction.CREATE, enrolled[0].pk), (AuditAction.UPDATE, enrolled[0].pk)]


def test_attendance_of_a_patient_not_on_the_roster_is_a_400(
    started, client_for, clinician, patients
):
    response = client_for(clinician).post(
        f"{SESSIONS}{started.pk}/attendance/",
        {"patient": patients[2].pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "patient": ["The patient is not on this session's roster."]
    }


def test_attendance_of_another_clinics_patient_is_a_400(
    started, client_for, clinician, other_clinic
):
    outsider = make_patient(other_clinic, staff_user(role="admissions", clinics=[other_clinic]))

    response = client_for(clinician).post(
        f"{SESSIONS}{started.pk}/attendance/",
        {"patient": outsider.pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["patient"]


def test_attendance_at_a_cancelled_session_is_a_409(started, client_for, clinician, enrolled):
    services.session_cancel(actor=clinician, session=started)

    response = client_for(clinician).post(
        f"{SESSIONS}{started.pk}/attendance/",
        {"patient": enrolled[0].pk, "status": "present"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "session_cancelled"
    assert not Attendance.objects.exists()


def test_attendance_long_before_the_start_is_a_409(calendar, client_for, clinician, enrolled):
    response = client_for(clinician).post(
        f"{SESSIONS}{calendar['tomorrow'].pk}/attendance/",
        {"patient": enrolled[0].pk, "status": "present"},
        format="json",
    )

    assert (response.status_code, response.json()["code"]) == (409, "session_not_started")


def test_a_patient_who_calls_ahead_is_excused_and_no_longer_reminded(
    frozen_time, client_for, clinician, admissions, clinic, iop
):
    # given: two patients reminded by e-mail of a program session in two days
    ana, ben = (
        patient_services.patient_create(
            actor=admissions,
            clinic=clinic,
            first_name=name,
            last_name="Rivera",
            date_of_birth=datetime.date(1980, 1, 1),
            email=f"{name.lower()}@example.org",
            reminder_channels=["email"],
        )
        for name in ("Ana", "Ben")
    )
    for patient in (ana, ben):
        enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=TODAY
        )
    client = client_for(clinician)
    session = client.post(SESSIONS, body(iop, start=at(days=2)), format="json").json()
    url = f"{SESSIONS}{session['id']}/attendance/"

    # when: Ana calls ahead
    response = client.post(url, {"patient": ana.pk, "status": "excused"}, format="json")

    # then: excused, her reminders of that session cancelled, Ben's untouched
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["checked_in_at"]) == ("excused", None)
    statuses = dict(
        Reminder.objects.filter(session_id=session["id"])
        .values("patient_id")
        .annotate(statuses=ArrayAgg("status", distinct=True))
        .values_list("patient_id", "statuses")
    )
    assert statuses == {ana.pk: ["cancelled"], ben.pk: ["pending"]}
    # and the other statuses still wait for the hour before the start
    present = client.post(url, {"patient": ben.pk, "status": "present"}, format="json")
    assert (present.status_code, present.json()["code"]) == (409, "session_not_started")


def test_a_user_without_a_role_cannot_read_or_record_attendance(
    started, client_for, user_without_role, enrolled
):
    client = client_for(user_without_role)
    url = f"{SESSIONS}{started.pk}/attendance/"

    assert client.get(url).status_code == 403
    assert client.post(url, {"patient": enrolled[0].pk, "status": "present"}).status_code == 403


# Schema ---------------------------------------------------------------------------------------


def test_the_schema_documents_the_calendar_endpoints(api_client):
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/sessions/"])
    assert {"get", "patch"} <= set(paths["/api/v1/sessions/{id}/"])
    assert {"get", "post"} <= set(paths["/api/v1/sessions/{id}/attendance/"])
    assert "post" in paths["/api/v1/sessions/{id}/cancel/"]
    assert {"get", "post"} <= set(paths["/api/v1/series/"])
    parameters = {p["name"] for p in paths["/api/v1/sessions/"]["get"]["parameters"]}
    assert {
        "program",
        "patient",
        "clinician",
        "starts_after",
        "starts_before",
        "status",
        "needs_attendance",
        "page_size",
    } <= parameters


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
            make_session(clinician, place, start=at(days=n % 3, hours=n), title=f"S{n}")

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
    early = make_session(clinician, clinic, start=at(days=1), title="Early")
    late = make_session(clinician, clinic, start=at(days=2), title="Late")
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
