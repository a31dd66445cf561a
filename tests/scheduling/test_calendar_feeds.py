"""Private, revocable iCal feeds (issue: iCal feeds; DOMAIN.md "Privacy").

A patient's feed ends up on a phone's lock screen and in third-party calendar services: it must
say where and when, never what.
"""

import datetime
import hashlib
import urllib.parse

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from programs.services import enrollments
from scheduling import services
from scheduling.models import CalendarFeed, RosterEntry
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, app_account, client_of

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
frozen = time_machine.travel(NOW, tick=False)

PUBLIC_NAME = "Riverside Health"
# Words that would tell whoever sees the calendar what the appointments are about.
REVEALING = [
    "treatment",
    "iop",
    "recovery",
    "addiction",
    "relapse",
    "substance",
    "group",
    "individual",
    "wing",
]


def at(days: float, hour: int = 0) -> datetime.datetime:
    return NOW + datetime.timedelta(days=days, hours=hour)


def path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def events(body: bytes) -> dict:
    return {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}


def uid(session) -> str:
    return f"session-{session.pk}@continuum.invalid"


@pytest.fixture
def clinic(clinic):
    # The internal name says what the clinic is; the public one must be all a feed shows.
    clinic.name = "Sunrise Addiction Treatment Center"
    clinic.public_name = PUBLIC_NAME
    clinic.save(update_fields=["name", "public_name"])
    return clinic


@pytest.fixture
def iop(clinic):
    return ProgramFactory(
        clinic=clinic, level="iop", name="Evening IOP Recovery Track", track="evening", capacity=10
    )


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Ana", last_name="Quintero")


@pytest.fixture
def ana_client(ana):
    return client_of(app_account(ana))


@pytest.fixture
def sessions(clinic, clinician, admissions, iop, ana):
    """Ana's program sessions in 1 and 8 days (via her admission), an individual appointment in
    3 days and one 10 days ago; another patient's appointment; sessions outside the window."""
    with time_machine.travel(NOW, tick=False):
        group = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(1, 8),
            program=iop,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
        group_next_week = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(8, 8),
            program=iop,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
        far_ahead = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(95, 8),
            program=iop,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
        enrollments.enrollment_create(actor=admissions, patient=ana, program=iop, start_date=TODAY)
        individual = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(3),
            title="Individual substance use counselling",
            kind="individual",
            patient=ana,
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
        past = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(-10),
            kind="individual",
            patient=ana,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
        long_ago = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(-40),
            kind="individual",
            patient=ana,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
        ben = PatientFactory(
            clinic=clinic, actor=admissions, first_name="Ben", last_name="Quintero"
        )
        bens = SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(2),
            kind="individual",
            patient=ben,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
    return {
        "group": group,
        "group_next_week": group_next_week,
        "individual": individual,
        "past": past,
        "far_ahead": far_ahead,
        "long_ago": long_ago,
        "bens": bens,
    }


@pytest.fixture
def feed_path(ana_client):
    with time_machine.travel(NOW, tick=False):
        response = ana_client.get("/api/v1/me/calendar-feed/")
    assert response.status_code == 200, response.content
    return path_of(response.json()["url"])


# The patient's feed -------------------------------------------------------------------------------


@frozen
def test_the_feed_url_works_without_auth_and_parses_as_icalendar(feed_path, sessions):
    # when: a calendar app fetches it, with no credentials but the URL
    response = APIClient().get(feed_path)

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"])
    assert str(calendar["X-WR-CALNAME"]) == PUBLIC_NAME
    found = events(response.content)
    # One event per session of hers from 30 days ago to 90 days ahead; none of Ben's.
    assert set(found) == {
        uid(sessions[name]) for name in ("past", "group", "individual", "group_next_week")
    }
    event = found[uid(sessions["group"])]
    assert str(event["SUMMARY"]) == f"Appointment at {PUBLIC_NAME}"
    assert str(event["LOCATION"]) == PUBLIC_NAME
    assert event.decoded("DTSTART") == at(1, 8)
    assert event.decoded("DTEND") == at(1, 11)
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert b"DTSTART:20261202T230000Z" in response.content
    assert event.decoded("DTSTAMP")
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"


@frozen
def test_the_patients_feed_reveals_nothing_about_treatment(feed_path, sessions, ana, iop):
    body = APIClient().get(feed_path).content.decode().lower()

    for secret in [
        iop.name,
        sessions["group"].title,
        sessions["individual"].title,
        sessions["group"].location,
        "Sunrise",  # the clinic's internal name
        ana.first_name,
        ana.last_name,
        *REVEALING,
    ]:
        assert secret.lower() not in body, secret
    assert body.count("summary:appointment at riverside health") == 4


@frozen
def test_a_moved_session_has_a_higher_sequence_and_its_new_times(feed_path, sessions, clinician):
    session = sessions["group"]
    services.session_move(actor=clinician, session=session, starts_at=at(2, 7), ends_at=at(2, 10))

    event = events(APIClient().get(feed_path).content)[uid(session)]

    assert event["SEQUENCE"] == 1
    assert event.decoded("DTSTART") == at(2, 7)
    assert event.decoded("DTEND") == at(2, 10)


@frozen
def test_a_cancelled_session_stays_in_the_feed_as_cancelled(feed_path, sessions, clinician):
    session = sessions["individual"]
    services.session_cancel(actor=clinician, session=session)

    event = events(APIClient().get(feed_path).content)[uid(session)]

    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1


@frozen
def test_a_declined_session_stays_in_the_patients_feed(feed_path, ana_client, ana, sessions):
    session = sessions["group_next_week"]
    ana_client.post(f"/api/v1/me/sessions/{session.pk}/decline/")
    assert RosterEntry.objects.get(session=session, patient=ana).response == "declined"

    event = events(APIClient().get(feed_path).content)[uid(session)]

    assert str(event["STATUS"]) == "CONFIRMED"


# Tokens -------------------------------------------------------------------------------------------


@frozen
def test_the_url_is_shown_again_and_no_working_token_is_stored(ana_client, feed_path, ana):
    token = feed_path.removeprefix("/calendar/").removesuffix(".ics")

    # A later GET shows the same URL again (API.md), still never cached.
    again = ana_client.get("/api/v1/me/calendar-feed/")
    assert again.status_code == 200
    assert path_of(again.json()["url"]) == feed_path
    assert "no-store" in again["Cache-Control"]

    assert len(token) >= 43  # a 256-bit HMAC, URL-safe base64
    feed = CalendarFeed.objects.get(patient=ana)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with connection.cursor() as cursor:
        for table in ("scheduling_calendarfeed", "clinic_auditevent"):
            cursor.execute(f"SELECT row_to_json(t)::text FROM {table} t")  # noqa: S608
            assert not any(token in row for (row,) in cursor.fetchall()), table


@frozen
def test_rotating_revokes_the_old_url_at_once(ana_client, feed_path, ana, sessions):
    # when
    response = ana_client.post("/api/v1/me/calendar-feed/rotate/")

    # then
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new_path = path_of(response.json()["url"])
    assert new_path != feed_path
    anonymous = APIClient()
    old = anonymous.get(feed_path)
    assert old.status_code == 404
    assert old.json()["code"] == "not_found"
    assert anonymous.get(new_path).status_code == 200
    assert CalendarFeed.objects.filter(patient=ana).count() == 1
    assert AuditEvent.objects.filter(
        object_type="scheduling.calendarfeed", action="update", actor_id=ana.app_user_id
    ).exists()


@frozen
def test_rotating_before_any_get_creates_the_feed(ana_client, ana, sessions):
    response = ana_client.post("/api/v1/me/calendar-feed/rotate/")

    assert response.status_code == 200
    assert APIClient().get(path_of(response.json()["url"])).status_code == 200
    assert ana_client.get("/api/v1/me/calendar-feed/").json() == response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/" + "A" * 43 + ".ics",  # well-formed, unknown
        "/calendar/short.ics",
        "/calendar/" + "A" * 43,
    ],
)
def test_an_unknown_token_is_not_found(path):
    response = APIClient().get(path)

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(object_type="scheduling.calendarfeed").exists()


@frozen
def test_the_feed_stops_when_the_patients_app_account_is_withdrawn(feed_path, ana, sessions):
    ana.app_user = None
    ana.save(update_fields=["app_user"])

    assert APIClient().get(feed_path).status_code == 404


# Audit and cost -----------------------------------------------------------------------------------


@frozen
def test_a_feed_fetch_writes_one_audit_row(feed_path, ana, sessions):
    # given
    before = set(AuditEvent.objects.values_list("id", flat=True))

    # when
    APIClient().get(feed_path)

    # then
    rows = list(AuditEvent.objects.exclude(id__in=before))
    assert len(rows) == 1
    row = rows[0]
    feed = CalendarFeed.objects.get(patient=ana)
    assert (row.action, row.actor_id, row.object_type, row.object_id) == (
        "read",
        None,
        "scheduling.calendarfeed",
        str(feed.pk),
    )
    assert (row.patient_id, row.clinic_id) == (ana.pk, ana.clinic_id)


@frozen
def test_the_feed_query_count_does_not_grow_with_the_sessions(
    feed_path, sessions, clinic, clinician, ana
):
    def fetch():
        with CaptureQueriesContext(connection) as captured:
            response = APIClient().get(feed_path)
        assert response.status_code == 200
        return len(captured), len(events(response.content))

    few = fetch()
    for day in range(10, 30):
        SessionFactory(
            clinic=clinic,
            actor=clinician,
            starts_at=at(day),
            kind="individual",
            patient=ana,
            title="IOP Relapse Prevention Group",
            location="Addiction Treatment Wing, Room 2",
            facilitator=clinician,
        )
    many = fetch()

    assert (few[1], many[1]) == (4, 24)
    # the feed with its owner, the patient's access (alumni), the events, the audit row
    assert few[0] == many[0] == 4


# Staff feeds --------------------------------------------------------------------------------------


@frozen
def test_a_clinicians_feed_shows_titles_and_places_but_no_patient(client_for, clinician, sessions):
    # when
    response = client_for(clinician).get("/api/v1/calendar-feed/")

    # then
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = APIClient().get(path_of(response.json()["url"])).content
    found = events(body)
    assert set(found) == {
        uid(sessions[name]) for name in ("past", "group", "bens", "individual", "group_next_week")
    }
    event = found[uid(sessions["individual"])]
    assert str(event["SUMMARY"]) == "Individual substance use counselling"
    assert str(event["LOCATION"]) == "Addiction Treatment Wing, Room 2"
    assert str(Calendar.from_ical(body)["X-WR-CALNAME"]) == PUBLIC_NAME
    assert b"Quintero" not in body
    assert b"Ana" not in body


@frozen
def test_a_clinician_rotates_their_feed(client_for, clinician, sessions):
    client = client_for(clinician)
    old = path_of(client.get("/api/v1/calendar-feed/").json()["url"])

    new = path_of(client.post("/api/v1/calendar-feed/rotate/").json()["url"])

    assert APIClient().get(old).status_code == 404
    assert APIClient().get(new).status_code == 200
    assert CalendarFeed.objects.get(user=clinician).patient_id is None


@frozen
def test_a_feed_shows_only_the_clinicians_own_sessions(client_for, supervisor, sessions):
    body = (
        APIClient()
        .get(path_of(client_for(supervisor).get("/api/v1/calendar-feed/").json()["url"]))
        .content
    )

    assert events(body) == {}


def test_the_feed_endpoints_are_split_by_kind_of_account(client_for, clinician, ana_client):
    assert client_for(clinician).get("/api/v1/me/calendar-feed/").status_code == 403
    assert client_for(clinician).post("/api/v1/me/calendar-feed/rotate/").status_code == 403
    assert ana_client.get("/api/v1/calendar-feed/").status_code == 403
    assert ana_client.post("/api/v1/calendar-feed/rotate/").status_code == 403
    assert APIClient().get("/api/v1/calendar-feed/").status_code == 401
    assert APIClient().get("/api/v1/me/calendar-feed/").status_code == 401


def test_a_feed_has_exactly_one_owner(ana, clinician):
    with pytest.raises(ValueError, match="one patient or one user"):
        services.calendar_feed_for(patient=ana, user=clinician)
    with pytest.raises(ValueError, match="one patient or one user"):
        services.calendar_feed_rotate()
