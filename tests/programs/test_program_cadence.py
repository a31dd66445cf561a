"""A program's cadence checked on its week as a whole (issue 18, item 4; DOMAIN.md: IOP meets
3–5 times a week for 3–4 hours; programs/services/schedules.py says what counts).

Tuesday 2026-12-01 10:00 New York; the week of Monday 2026-12-07 is 2026-W50."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from programs.services import enrollments
from scheduling import services as calendar
from scheduling.models import RosterEntry, Series, Session
from tests.factories import PatientFactory
from tests.scheduling.sessions_api.helpers import (
    NY,
    SERIES,
    SESSIONS,
    TODAY,
    body,
    iso,
    series_body,
)
from tests.scheduling.test_scheduling_admin import html, log_in, series_form, session_form

pytestmark = pytest.mark.django_db

FULL_W50 = (
    "Evening IOP (Intensive outpatient) meets at most 5 times a week; the week of 2026-12-07 "
    "(2026-W50) would have 6."
)


def ny(month: int, day: int, hour: int) -> datetime.datetime:
    year = 2026 if month == 12 else 2027
    return datetime.datetime(year, month, day, hour, tzinfo=NY)


@pytest.fixture
def api(frozen_time, client_for, clinician):
    return client_for(clinician)


@pytest.fixture
def three_a_week(api, iop):
    """Mon/Wed/Fri 18:00 for two weeks (2026-W50 and W51), through the API."""
    response = api.post(SERIES, series_body(iop), format="json")
    assert response.status_code == 201, response.content
    return Series.objects.get(pk=response.json()["id"])


def one_off(api, iop, start, hours=3, **extra):
    return api.post(SESSIONS, body(iop, start=start, hours=hours, **extra), format="json")


def program_sessions_in_w50(iop) -> int:
    return Session.objects.filter(
        program=iop, status="scheduled", starts_at__gte=ny(12, 7, 0), starts_at__lt=ny(12, 14, 0)
    ).count()


# Creating ---------------------------------------------------------------------------------------


def test_two_series_of_one_program_giving_six_a_week_are_a_400_naming_the_rule_and_week(
    api, iop, three_a_week
):
    # when: a second three-a-week series in the first week of the first one
    response = api.post(
        SERIES,
        series_body(iop, title="Morning group", weekdays=[2, 4, 6], ends_on="2026-12-13"),
        format="json",
    )

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["fields"] == {"weekdays": [FULL_W50]}
    assert list(Series.objects.all()) == [three_a_week]
    assert program_sessions_in_w50(iop) == 3


def test_a_second_series_overlapping_two_full_weeks_names_the_first_and_counts_the_rest(
    api, iop, three_a_week
):
    response = api.post(
        SERIES, series_body(iop, title="Morning group", weekdays=[2, 4, 6]), format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["weekdays"] == [FULL_W50[:-1] + " (and 1 more week)."]


def test_a_one_off_six_hour_program_session_is_a_400_naming_the_length(api, iop):
    response = one_off(api, iop, ny(12, 8, 9), hours=6)

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "ends_at": [
            "Evening IOP (Intensive outpatient) sessions last 3–4 hours; the session of "
            "2026-12-08 would last 6."
        ]
    }
    assert not Session.objects.exists()


def test_one_offs_fill_a_three_a_week_week_up_to_five_and_the_sixth_is_refused(
    api, iop, three_a_week
):
    fourth = one_off(api, iop, ny(12, 8, 9))
    fifth = one_off(api, iop, ny(12, 10, 9))
    sixth = one_off(api, iop, ny(12, 12, 9))

    assert (fourth.status_code, fifth.status_code) == (201, 201)
    assert sixth.status_code == 400
    assert sixth.json()["fields"] == {"starts_at": [FULL_W50]}
    assert program_sessions_in_w50(iop) == 5
    # The next week still has room.
    assert one_off(api, iop, ny(12, 15, 9)).status_code == 201


def test_individual_appointments_and_cancelled_sessions_do_not_count(
    api, iop, three_a_week, clinic, admissions
):
    for day in (8, 10):
        assert one_off(api, iop, ny(12, day, 9)).status_code == 201
    patient = PatientFactory(clinic=clinic, actor=admissions, last_name="Rivera")

    appointment = one_off(
        api, iop, ny(12, 9, 9), hours=1, kind="individual", patient=patient.pk, title="Check-in"
    )
    friday = Session.objects.get(series=three_a_week, occurrence_date=datetime.date(2026, 12, 11))
    assert api.post(f"{SESSIONS}{friday.pk}/cancel/").status_code == 200
    replacement = one_off(api, iop, ny(12, 12, 9))

    assert appointment.status_code == 201, appointment.content
    assert replacement.status_code == 201, replacement.content


def test_the_series_still_to_be_expanded_count_beyond_the_horizon(frozen_time, clinician, iop):
    """A week ten weeks ahead has no sessions yet (the horizon is eight), but the open-ended
    five-a-week series will meet there five times: a sixth is refused now, not later."""
    calendar.program_series_create(
        actor=clinician,
        program=iop,
        title="Day IOP",
        weekdays=[1, 2, 3, 4, 5],
        local_start_time=datetime.time(9),
        duration_minutes=180,
        starts_on=datetime.date(2026, 12, 7),
    )
    saturday = ny(2, 13, 9)  # 2027-W06
    assert not Session.objects.filter(starts_at__gte=ny(2, 8, 0)).exists()

    with pytest.raises(ValidationError) as refusal:
        calendar.program_session_create(
            actor=clinician,
            clinic=iop.clinic,
            program=iop,
            kind="group",
            title="Saturday group",
            starts_at=saturday,
            ends_at=saturday + datetime.timedelta(hours=3),
        )

    assert refusal.value.message_dict == {
        "starts_at": [
            "Evening IOP (Intensive outpatient) meets at most 5 times a week; the week of "
            "2027-02-08 (2027-W06) would have 6."
        ]
    }


def test_a_series_created_after_a_one_off_beyond_the_horizon_meets_it_there(
    frozen_time, clinician, iop
):
    saturday = ny(2, 13, 9)  # 2027-W06, past the horizon
    calendar.program_session_create(
        actor=clinician,
        clinic=iop.clinic,
        program=iop,
        kind="group",
        title="Saturday group",
        starts_at=saturday,
        ends_at=saturday + datetime.timedelta(hours=3),
    )

    with pytest.raises(ValidationError) as refusal:
        calendar.program_series_create(
            actor=clinician,
            program=iop,
            title="Day IOP",
            weekdays=[1, 2, 3, 4, 5],
            local_start_time=datetime.time(9),
            duration_minutes=180,
            starts_on=datetime.date(2026, 12, 7),
        )

    assert "2027-02-08 (2027-W06) would have 6" in refusal.value.message_dict["weekdays"][0]
    assert not Series.objects.exists()


# Moving -----------------------------------------------------------------------------------------


@pytest.fixture
def full_w50(api, iop, three_a_week):
    """W50 at its maximum (Mon/Wed/Fri plus Tuesday and Thursday); W51 at three plus one."""
    for day in (8, 10):
        assert one_off(api, iop, ny(12, day, 9)).status_code == 201
    response = one_off(api, iop, ny(12, 15, 9))
    assert response.status_code == 201
    return Session.objects.get(pk=response.json()["id"])


def test_moving_a_session_into_a_full_week_is_a_400_and_within_its_week_is_fine(api, iop, full_w50):
    into_full = api.patch(
        f"{SESSIONS}{full_w50.pk}/", {"starts_at": iso(ny(12, 12, 9))}, format="json"
    )
    within = api.patch(
        f"{SESSIONS}{full_w50.pk}/", {"starts_at": iso(ny(12, 17, 9))}, format="json"
    )

    assert into_full.status_code == 400
    assert into_full.json()["fields"] == {"starts_at": [FULL_W50]}
    assert within.status_code == 200, within.content
    full_w50.refresh_from_db()
    assert full_w50.starts_at == ny(12, 17, 9)


def test_stretching_a_session_to_five_hours_is_a_400(api, iop, full_w50):
    response = api.patch(
        f"{SESSIONS}{full_w50.pk}/", {"ends_at": iso(ny(12, 15, 14))}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "ends_at": [
            "Evening IOP (Intensive outpatient) sessions last 3–4 hours; the session of "
            "2026-12-15 would last 5."
        ]
    }
    full_w50.refresh_from_db()
    assert full_w50.ends_at == ny(12, 15, 12)


def test_moving_through_the_service_is_checked_too(frozen_time, clinician, iop, full_w50):
    with pytest.raises(ValidationError) as refusal:
        calendar.program_session_move(
            actor=clinician,
            session=full_w50,
            starts_at=ny(12, 13, 9),
            ends_at=ny(12, 13, 12),
        )

    assert refusal.value.message_dict == {"starts_at": [FULL_W50]}


def test_a_series_edit_of_one_occurrences_time_keeps_the_length(api, iop, three_a_week):
    monday = Session.objects.filter(series=three_a_week).order_by("occurrence_date").first()

    response = api.patch(
        f"{SESSIONS}{monday.pk}/", {"scope": "this", "duration_minutes": 150}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["duration_minutes"]


# Series edits that change the weekdays ----------------------------------------------------------


@pytest.fixture
def enrolled(frozen_time, admissions, iop, clinic):
    patients = [
        PatientFactory(clinic=clinic, actor=admissions, last_name="Rivera") for _ in range(2)
    ]
    for patient in patients:
        enrollments.enrollment_create(
            actor=admissions, patient=patient, program=iop, start_date=TODAY
        )
    return patients


def days_of(series) -> list[tuple[datetime.date, str]]:
    return list(
        Session.objects.filter(series=series)
        .order_by("occurrence_date")
        .values_list("occurrence_date", "status")
    )


def test_changing_the_weekdays_of_all_rematerialises_with_rosters(api, iop, enrolled, three_a_week):
    first = Session.objects.filter(series=three_a_week).order_by("occurrence_date").first()

    # when: Mon/Wed/Fri becomes Mon/Tue/Wed
    response = api.patch(
        f"{SESSIONS}{first.pk}/", {"scope": "all", "weekdays": [1, 2, 3]}, format="json"
    )

    # then: Fridays cancelled, Tuesdays created with the enrolled patients on their rosters
    assert response.status_code == 200, response.content
    d = datetime.date
    assert days_of(three_a_week) == [
        (d(2026, 12, 7), "scheduled"),
        (d(2026, 12, 8), "scheduled"),
        (d(2026, 12, 9), "scheduled"),
        (d(2026, 12, 11), "cancelled"),
        (d(2026, 12, 14), "scheduled"),
        (d(2026, 12, 15), "scheduled"),
        (d(2026, 12, 16), "scheduled"),
        (d(2026, 12, 18), "cancelled"),
    ]
    tuesdays = Session.objects.filter(series=three_a_week, occurrence_date__week_day=3)
    assert {s.starts_at.astimezone(NY).time() for s in tuesdays} == {datetime.time(18)}
    assert RosterEntry.objects.filter(session__in=tuesdays).count() == 4
    three_a_week.refresh_from_db()
    assert three_a_week.weekdays == [1, 2, 3]


def test_a_weekday_change_overfilling_a_week_is_a_400_and_changes_nothing(
    api, iop, enrolled, three_a_week
):
    assert one_off(api, iop, ny(12, 12, 9)).status_code == 201  # W50: four
    first = Session.objects.filter(series=three_a_week).order_by("occurrence_date").first()
    before = days_of(three_a_week)

    response = api.patch(
        f"{SESSIONS}{first.pk}/", {"scope": "all", "weekdays": [1, 2, 3, 4, 5]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["weekdays"][0].startswith(FULL_W50[:-1])
    assert days_of(three_a_week) == before
    three_a_week.refresh_from_db()
    assert three_a_week.weekdays == [1, 3, 5]


def test_a_weekday_change_below_the_minimum_is_a_400(api, iop, three_a_week):
    first = Session.objects.filter(series=three_a_week).order_by("occurrence_date").first()

    response = api.patch(
        f"{SESSIONS}{first.pk}/", {"scope": "all", "weekdays": [1, 3]}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["weekdays"]
    assert "3–5 times a week" in response.json()["fields"]["weekdays"][0]


def test_weekdays_change_only_for_following_or_all(api, iop, three_a_week):
    first = Session.objects.filter(series=three_a_week).order_by("occurrence_date").first()

    response = api.patch(
        f"{SESSIONS}{first.pk}/", {"scope": "this", "weekdays": [1, 2, 3]}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["weekdays"]


def test_following_adds_days_from_the_edited_occurrence_and_the_expansion_does_not_backfill(
    frozen_time, clinician, iop, enrolled
):
    series, _ = calendar.program_series_create(
        actor=clinician,
        program=iop,
        title="Evening IOP",
        weekdays=[1, 3, 5],
        local_start_time=datetime.time(18),
        duration_minutes=180,
        starts_on=datetime.date(2026, 11, 2),  # four weeks ago: past occurrences exist
    )
    second_week = Session.objects.get(series=series, occurrence_date=datetime.date(2026, 12, 14))

    edit = calendar.program_series_edit(
        actor=clinician, session=second_week, scope="following", weekdays=[1, 2, 3, 5]
    )
    calendar.materialize_all_series(until=datetime.date(2027, 2, 28))

    tuesdays = sorted(
        Session.objects.filter(series=series, occurrence_date__week_day=3).values_list(
            "occurrence_date", flat=True
        )
    )
    assert tuesdays[0] == datetime.date(2026, 12, 15)
    assert len(tuesdays) == len(set(tuesdays))
    assert {s.occurrence_date for s in edit.created} <= set(tuesdays)
    assert RosterEntry.objects.filter(session__in=edit.created).count() == 2 * len(edit.created)


# The admin --------------------------------------------------------------------------------------


def test_the_admin_session_form_refuses_a_sixth_session_on_starts_at(
    api, client, clinician, clinic, iop, full_w50
):
    response = log_in(client, clinician).post(
        "/admin/scheduling/session/add/", session_form(clinic, ny(12, 12, 9), program=iop)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"starts_at": [FULL_W50]}
    assert program_sessions_in_w50(iop) == 5


def test_the_admin_session_move_refuses_a_full_week(api, client, clinician, clinic, iop, full_w50):
    start, end = ny(12, 12, 9), ny(12, 12, 12)
    response = log_in(client, clinician).post(
        f"/admin/scheduling/session/{full_w50.pk}/change/",
        {
            "starts_at_0": start.strftime("%Y-%m-%d"),
            "starts_at_1": start.strftime("%H:%M:%S"),
            "ends_at_0": end.strftime("%Y-%m-%d"),
            "ends_at_1": end.strftime("%H:%M:%S"),
            "location": "Hall",
            "room": "",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"starts_at": [FULL_W50]}


def test_the_admin_series_forms_check_the_week_and_change_weekdays(
    api, client, clinician, clinic, iop, enrolled, three_a_week
):
    client = log_in(client, clinician)
    second = client.post(
        "/admin/scheduling/series/add/",
        series_form(clinic, program=iop, weekdays=["2", "4", "6"], ends_on="2026-12-13"),
    )
    changed = client.post(
        f"/admin/scheduling/series/{three_a_week.pk}/change/",
        {
            "title": "Evening group",
            "weekdays": ["1", "2", "3"],
            "local_start_time": "18:00",
            "duration_minutes": "180",
            "location": "Group room A",
        },
    )

    assert second.status_code == 200
    assert second.context["adminform"].form.errors == {"weekdays": [FULL_W50]}
    assert changed.status_code == 302, html(changed)
    three_a_week.refresh_from_db()
    assert three_a_week.weekdays == [1, 2, 3]
    assert Session.objects.filter(
        series=three_a_week, occurrence_date=datetime.date(2026, 12, 8)
    ).exists()


def test_a_series_without_a_program_is_not_counted(api, iop, three_a_week):
    response = api.post(
        SERIES,
        series_body(title="Open group", weekdays=[2, 4, 6], ends_on="2026-12-13"),
        format="json",
    )

    # A series of no program is no program's week.
    assert response.status_code == 201, response.content
    assert program_sessions_in_w50(iop) == 3
