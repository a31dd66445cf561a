"""The calendar admin (scheduling.admin): the week view of a program, series and sessions saved
through the services with their refusals as form errors, clinic scoping, roles and audit rows."""

import datetime
import zoneinfo

import pytest
from django.utils.html import escape

from clinic.models import AuditAction, AuditEvent, Room
from programs.services import enrollments
from scheduling import services
from scheduling.models import RosterEntry, Series, Session
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, admin_login, staff_user

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")
UTC = datetime.UTC
# Tuesday 2026-12-01, 10:00 in New York.
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=UTC)
TODAY = datetime.date(2026, 12, 1)

SESSIONS = "/admin/scheduling/session/"
SERIES = "/admin/scheduling/series/"
WEEK = "/admin/scheduling/session/week/"


def log_in(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    admin_login(client, user)
    return client


def html(response) -> str:
    return response.content.decode()


def ny(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=NY)


@pytest.fixture
def room(clinic):
    return Room.objects.create(clinic=clinic, name="Room 1")


@pytest.fixture
def patient(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ana",
        last_name="Rivera",
        date_of_birth=datetime.date(1990, 4, 2),
    )


# The week view --------------------------------------------------------------------------------


@pytest.fixture
def week(frozen_time, clinician, clinic, other_clinic, iop, patient, admissions):
    """The week of Monday 2026-11-30 in the program, plus sessions that must not show."""
    enrollments.enrollment_create(
        actor=admissions, patient=patient, program=iop, start_date=datetime.date(2026, 11, 1)
    )
    monday_evening = SessionFactory(
        clinic=clinic,
        actor=clinician,
        starts_at=datetime.datetime(2026, 11, 30, 18, tzinfo=NY),
        program=iop,
    )
    RosterEntry.objects.create(session=monday_evening, patient=patient)
    # 21:00 Wednesday in New York is already Thursday in UTC.
    late = SessionFactory(
        clinic=clinic,
        actor=clinician,
        starts_at=ny(2, 21),
        hours=1,
        program=iop,
        title="Late group",
    )
    cancelled = SessionFactory(
        clinic=clinic, actor=clinician, starts_at=ny(4, 9), program=iop, title="Friday group"
    )
    services.session_cancel(actor=clinician, session=cancelled)
    next_week = SessionFactory(
        clinic=clinic, actor=clinician, starts_at=ny(7, 18), program=iop, title="Next week"
    )
    other_program = ProgramFactory(
        clinic=clinic, name="Outpatient", level="outpatient", capacity=10
    )
    elsewhere = SessionFactory(
        clinic=clinic, actor=clinician, starts_at=ny(2, 12), program=other_program, title="Other"
    )
    stranger = staff_user(role="clinician", clinics=[other_clinic])
    foreign = ProgramFactory(clinic=other_clinic, name="Foreign IOP", level="iop", capacity=10)
    foreign_session = SessionFactory(
        clinic=other_clinic, actor=stranger, starts_at=ny(2, 12), program=foreign
    )
    return {
        "monday": monday_evening,
        "late": late,
        "cancelled": cancelled,
        "next_week": next_week,
        "elsewhere": elsewhere,
        "foreign_program": foreign,
        "foreign_session": foreign_session,
    }


def test_the_week_view_shows_the_programs_week_in_local_time(week, client, admissions, iop):
    response = log_in(client, admissions).get(WEEK, {"program": iop.pk, "week": "2026-12-02"})

    assert response.status_code == 200
    days = response.context["days"]
    assert [d["date"] for d in days] == [
        datetime.date(2026, 11, 30) + datetime.timedelta(days=n) for n in range(7)
    ]
    shown = [[(item["session"].pk, item["time_range"]) for item in d["sessions"]] for d in days]
    assert shown == [
        [(week["monday"].pk, "18:00–21:00")],
        [],
        [(week["late"].pk, "21:00–22:00")],
        [],
        [(week["cancelled"].pk, "09:00–12:00")],
        [],
        [],
    ]
    page = html(response)
    assert "18:00–21:00 Relapse prevention" in page
    assert "1 on the roster" in page
    assert '<span class="marker">cancelled</span>' in page
    assert "Next week</a>" not in page
    assert "Other" not in page.split('<table class="week">')[1]
    assert "times in America/New_York" in page
    assert f'?program={iop.pk}&amp;week=2026-11-23"' in page
    assert f'?program={iop.pk}&amp;week=2026-12-07"' in page


def test_the_next_week_link_shows_the_next_week(week, client, clinician, iop):
    response = log_in(client, clinician).get(WEEK, {"program": iop.pk, "week": "2026-12-07"})

    shown = [item["session"].pk for d in response.context["days"] for item in d["sessions"]]
    assert shown == [week["next_week"].pk]


def test_the_week_view_defaults_to_this_week_and_offers_only_own_programs(
    week, client, clinician, iop
):
    response = log_in(client, clinician).get(WEEK, {"program": iop.pk})

    assert response.context["monday"] == datetime.date(2026, 11, 30)
    assert {p.name for p in response.context["programs"]} == {"Evening IOP", "Outpatient"}
    assert "Foreign IOP" not in html(response)


def test_another_clinics_program_has_no_week_view(week, client, clinician):
    response = log_in(client, clinician).get(WEEK, {"program": week["foreign_program"].pk})

    assert response.status_code == 404


def test_the_week_view_needs_a_staff_role(week, client, user_without_role, iop):
    response = log_in(client, user_without_role).get(WEEK, {"program": iop.pk})

    assert response.status_code == 403


# Sessions -------------------------------------------------------------------------------------


def session_form(clinic, start, hours=3, **fields):
    end = start + datetime.timedelta(hours=hours)
    data = {
        "clinic": clinic.pk,
        "program": "",
        "kind": "group",
        "title": "Skills group",
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": end.strftime("%Y-%m-%d"),
        "ends_at_1": end.strftime("%H:%M:%S"),
        "location": "Hall",
        "room": "",
        "facilitator": "",
        "capacity": "",
        "patient": "",
    }
    data.update({k: v.pk if hasattr(v, "pk") else v for k, v in fields.items()})
    return data


def test_the_add_form_creates_a_session_in_clinic_time_through_the_service(
    frozen_time, client, clinician, clinic, iop, patient, admissions
):
    enrollments.enrollment_create(actor=admissions, patient=patient, program=iop, start_date=TODAY)

    response = log_in(client, clinician).post(
        f"{SESSIONS}add/", session_form(clinic, ny(3, 18), program=iop)
    )

    assert response.status_code == 302, html(response)
    session = Session.objects.get()
    # Typed as 18:00 New York time.
    assert session.starts_at == datetime.datetime(2026, 12, 3, 23, tzinfo=UTC)
    assert list(session.roster.values_list("patient_id", flat=True)) == [patient.pk]
    assert AuditEvent.objects.filter(
        object_type="scheduling.session", object_id=str(session.pk), action=AuditAction.CREATE
    ).exists()


def test_the_add_form_refuses_a_double_booked_clinician_with_the_constraints_message(
    frozen_time, client, clinician, supervisor, clinic
):
    SessionFactory(clinic=clinic, actor=supervisor, starts_at=ny(3, 18), facilitator=clinician)

    response = log_in(client, supervisor).post(
        f"{SESSIONS}add/", session_form(clinic, ny(3, 19), facilitator=clinician)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "facilitator": ["The clinician has another session at that time."]
    }
    assert escape("The clinician has another session at that time.") in html(response)
    assert Session.objects.count() == 1


def test_the_add_form_refuses_a_double_booked_room_with_the_constraints_message(
    frozen_time, client, clinician, clinic, room
):
    SessionFactory(clinic=clinic, actor=clinician, starts_at=ny(3, 18), room=room)

    response = log_in(client, clinician).post(
        f"{SESSIONS}add/", session_form(clinic, ny(3, 20), room=room)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "room": ["The room is booked for another session at that time."]
    }
    assert Session.objects.count() == 1


def test_the_add_form_shows_the_services_field_errors(frozen_time, client, clinician, clinic):
    data = session_form(clinic, ny(3, 18), kind="individual")
    data["ends_at_1"] = "17:00:00"

    response = log_in(client, clinician).post(f"{SESSIONS}add/", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "ends_at": ["A session ends after it starts."]
    }
    assert not Session.objects.exists()


def test_the_change_form_moves_the_session(frozen_time, client, clinician, clinic):
    session = SessionFactory(clinic=clinic, actor=clinician, starts_at=ny(3, 18))
    data = {
        "starts_at_0": "2026-12-03",
        "starts_at_1": "19:00:00",
        "ends_at_0": "2026-12-03",
        "ends_at_1": "22:00:00",
        "location": "Annex",
        "room": "",
    }

    response = log_in(client, clinician).post(f"{SESSIONS}{session.pk}/change/", data)

    assert response.status_code == 302, html(response)
    session.refresh_from_db()
    assert session.starts_at == ny(3, 19)
    assert (session.location, session.sequence) == ("Annex", 1)


def test_the_session_page_shows_the_roster_and_audits_it(
    frozen_time, client, admissions, clinician, clinic, patient
):
    session = SessionFactory(clinic=clinic, actor=clinician, starts_at=ny(3, 18))
    RosterEntry.objects.create(session=session, patient=patient)

    response = log_in(client, admissions).get(f"{SESSIONS}{session.pk}/change/")

    assert response.status_code == 200
    assert "Rivera, Ana" in html(response)
    assert AuditEvent.objects.filter(
        actor=admissions, action=AuditAction.LIST, patient_id=patient.pk
    ).exists()


def test_admissions_reads_but_does_not_plan(frozen_time, client, admissions, clinician, clinic):
    session = SessionFactory(clinic=clinic, actor=clinician, starts_at=ny(3, 18))
    client = log_in(client, admissions)

    assert client.get(SESSIONS).status_code == 200
    assert client.get(f"{SESSIONS}add/").status_code == 403
    assert client.get(f"{SERIES}add/").status_code == 403
    response = client.post(
        f"{SESSIONS}{session.pk}/change/",
        {"starts_at_0": "2026-12-04", "starts_at_1": "18:00:00"},
    )
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.starts_at == ny(3, 18)


def test_the_changelist_shows_only_the_users_clinics(
    frozen_time, client, clinician, clinic, other_clinic
):
    mine = SessionFactory(clinic=clinic, actor=clinician, starts_at=ny(3, 18))
    stranger = staff_user(role="clinician", clinics=[other_clinic])
    theirs = SessionFactory(clinic=other_clinic, actor=stranger, starts_at=ny(3, 18))
    client = log_in(client, clinician)

    response = client.get(SESSIONS)

    assert {s.pk for s in response.context["cl"].result_list} == {mine.pk}
    assert client.get(f"{SESSIONS}{theirs.pk}/change/").status_code == 302  # "does not exist"


def test_the_cancel_action_cancels_through_the_service(frozen_time, client, clinician, clinic):
    session = SessionFactory(clinic=clinic, actor=clinician, starts_at=ny(3, 18))

    response = log_in(client, clinician).post(
        SESSIONS, {"action": "cancel_selected", "_selected_action": [session.pk]}
    )

    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.status, session.sequence) == ("cancelled", 1)


# Series ---------------------------------------------------------------------------------------


def series_form(clinic, **fields):
    data = {
        "clinic": clinic.pk,
        "program": "",
        "kind": "group",
        "title": "Evening group",
        "weekdays": ["1", "3", "5"],
        "local_start_time": "18:00",
        "duration_minutes": "180",
        "starts_on": "2026-12-07",
        "ends_on": "2026-12-20",
        "location": "Hall",
        "room": "",
        "facilitator": "",
        "capacity": "",
    }
    data.update({k: v.pk if hasattr(v, "pk") else v for k, v in fields.items()})
    return data


def test_the_series_add_form_refuses_an_iop_series_twice_a_week(
    frozen_time, client, clinician, clinic, iop
):
    response = log_in(client, clinician).post(
        f"{SERIES}add/", series_form(clinic, program=iop, weekdays=["1", "3"])
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["weekdays"]
    assert "3–5 times a week" in errors["weekdays"][0]
    assert not Series.objects.exists()


def test_the_series_add_form_creates_the_sessions_and_rosters(
    frozen_time, client, clinician, clinic, iop, patient, admissions
):
    enrollments.enrollment_create(actor=admissions, patient=patient, program=iop, start_date=TODAY)

    response = log_in(client, clinician).post(f"{SERIES}add/", series_form(clinic, program=iop))

    assert response.status_code == 302, html(response)
    series = Series.objects.get()
    sessions = Session.objects.filter(series=series)
    assert sessions.count() == 6
    assert {s.starts_at.astimezone(NY).time() for s in sessions} == {datetime.time(18)}
    assert RosterEntry.objects.filter(session__in=sessions, patient=patient).count() == 6


def test_the_series_change_form_edits_the_future_occurrences(
    frozen_time, client, clinician, clinic
):
    log_in(client, clinician).post(f"{SERIES}add/", series_form(clinic))
    series = Series.objects.get()

    response = client.post(
        f"{SERIES}{series.pk}/change/",
        {
            "title": "Evening group",
            "weekdays": ["1", "3", "5"],
            "local_start_time": "17:30",
            "duration_minutes": "180",
            "location": "Hall",
        },
    )

    assert response.status_code == 302, html(response)
    times = {s.starts_at.astimezone(NY).time() for s in Session.objects.filter(series=series)}
    assert times == {datetime.time(17, 30)}
