"""What the payer authorized beside what is clinically indicated: the step-down board's
authorization columns and flags, and the census's authorized days and reviews due. Today is
2026-12-01 in the clinic (New York); each case is computed by hand."""

import datetime

import pytest
import time_machine

from patients.models import Level
from programs import reports
from programs.services import authorizations
from programs.services import enrollments as services
from scheduling import services as calendar
from scheduling.services import program_session_create
from tests.factories import (
    AuthorizationFactory,
    CoverageFactory,
    PatientFactory,
    ProgramFactory,
)
from tests.programs.reports.helpers import (
    CENSUS,
    STEP_DOWN,
    admit,
    day,
    discharge,
    without_measures,
)

pytestmark = pytest.mark.django_db


def noon_in_new_york(on: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(on, datetime.time(17), tzinfo=datetime.UTC)


def authorize(stay, actor, start, end, units, *, level=None, coverage=None, status="approved"):
    """An authorization of ``stay``, approved unless ``status`` says otherwise."""
    return AuthorizationFactory(
        enrollment=stay,
        coverage=coverage or CoverageFactory(patient=stay.patient, actor=actor),
        authorized_level=level or stay.level,
        start_date=day(start),
        end_date=day(end),
        units_requested=units,
        status=status,
        actor=actor,
    )


@pytest.fixture
def authorized(clinic, admissions, clinician):
    """The board's patients by surname, with their authorizations (see each comment)."""
    house = ProgramFactory(clinic=clinic, name="House", level=Level.RESIDENTIAL, capacity=10)
    iop = ProgramFactory(clinic=clinic, name="Day IOP", level=Level.IOP, capacity=10)
    without_measures(house, iop)
    people = {
        last: PatientFactory(clinic=clinic, actor=admissions, first_name=first, last_name=last)
        for first, last in [("Rio", "Reyes"), ("Ivy", "Irwin"), ("Dan", "Dale"), ("Ned", "Nye")]
    }
    stays = {}

    # Reyes, residential since 11-21, planned to 12-21. Seven days approved 11-21 to 11-27,
    # seven more 11-28 to 12-04 (in force today: 11-28 to 12-01 used, 3 left), seven requested
    # from 12-05 (the latest, not in force). Next review 12-03. It ends before the planned end.
    reyes = stays["Reyes"] = admit(
        people["Reyes"], house, day("2026-11-21"), planned_end_date=day("2026-12-21")
    )
    coverage = CoverageFactory(patient=reyes.patient, actor=admissions)
    authorize(reyes, admissions, "2026-11-21", "2026-11-27", 7, coverage=coverage)
    stays["Reyes current"] = authorize(
        reyes, admissions, "2026-11-28", "2026-12-04", 7, coverage=coverage
    )
    authorizations.review_schedule(
        actor=admissions,
        authorization=stays["Reyes current"],
        kind="concurrent",
        scheduled_on=day("2026-12-03"),
    )
    authorize(
        reyes, admissions, "2026-12-05", "2026-12-11", 7, coverage=coverage, status="requested"
    )

    # Irwin, IOP since Mon 11-23 (planned to 01-04), authorized 10 sessions at the outpatient
    # level through 01-15: present 11-24, late 11-25, absent 11-26, present 11-30: 3 used, 7 left.
    # The payer's level is below the clinical one; the authorization outlasts the planned end.
    with time_machine.travel(noon_in_new_york(day("2026-11-20")), tick=False):
        irwin = stays["Irwin"] = services.enrollment_create(
            actor=admissions,
            patient=people["Irwin"],
            program=iop,
            start_date=day("2026-11-23"),
            planned_end_date=day("2027-01-04"),
        )
        sessions = {
            on: program_session_create(
                actor=clinician,
                clinic=clinic,
                program=iop,
                title="Group",
                kind="group",
                starts_at=noon_in_new_york(day(on)),
                ends_at=noon_in_new_york(day(on)) + datetime.timedelta(hours=3),
            )
            for on in ("2026-11-24", "2026-11-25", "2026-11-26", "2026-11-30")
        }
    for on, status in [
        ("2026-11-24", "present"),
        ("2026-11-25", "late"),
        ("2026-11-26", "absent"),
        ("2026-11-30", "present"),
    ]:
        calendar.attendance_record(
            actor=clinician, session=sessions[on], patient=people["Irwin"], status=status
        )
    stays["Irwin current"] = authorize(
        irwin, admissions, "2026-11-23", "2027-01-15", 10, level=Level.OUTPATIENT
    )

    # Dale, residential since 11-05: 14 days approved 11-05 to 11-18, all used; the concurrent
    # review of 11-15 denied more, the payer recommending IOP. Nothing is in force: the current
    # authorization is the denied one, and no authorization flag is raised.
    dale = stays["Dale"] = admit(people["Dale"], house, day("2026-11-05"))
    stays["Dale current"] = authorize(dale, admissions, "2026-11-05", "2026-11-18", 14)
    review = authorizations.review_schedule(
        actor=admissions,
        authorization=stays["Dale current"],
        kind="concurrent",
        scheduled_on=day("2026-11-15"),
    )
    authorizations.review_record(
        actor=admissions,
        review=review,
        outcome="denied",
        done_on=day("2026-11-15"),
        payer_recommended_level=Level.IOP,
    )

    # Nye, IOP since 11-25: only a request, at the outpatient level, ending 12-02 (before the
    # planned end): not in force, so no flag and nothing remaining.
    nye = stays["Nye"] = admit(people["Nye"], iop, day("2026-11-25"))
    stays["Nye current"] = authorize(
        nye, admissions, "2026-11-25", "2026-12-02", 4, level=Level.OUTPATIENT, status="requested"
    )
    return stays


COLUMNS = (
    "authorization",
    "authorization_status",
    "authorized_level",
    "authorization_unit",
    "units_remaining",
    "authorization_end_date",
    "next_review_on",
    "latest_recommended_level",
    "payer_recommended_level",
    "flags",
)


def test_the_board_shows_the_current_authorization_beside_the_clinical_level(
    client_for, clinician, authorized
):
    response = client_for(clinician).get(STEP_DOWN)

    assert response.status_code == 200, response.json()
    rows = {
        row["patient_name"].split(",")[0]: {key: row[key] for key in COLUMNS}
        for row in response.json()["results"]
    }
    assert rows == {
        "Reyes": {
            "authorization": authorized["Reyes current"].pk,
            "authorization_status": "approved",
            "authorized_level": "residential",
            "authorization_unit": "days",
            "units_remaining": 3,
            "authorization_end_date": "2026-12-04",
            "next_review_on": "2026-12-03",
            "latest_recommended_level": None,
            "payer_recommended_level": None,
            "flags": ["authorization_ends_before_planned_end"],
        },
        "Irwin": {
            "authorization": authorized["Irwin current"].pk,
            "authorization_status": "approved",
            "authorized_level": "outpatient",
            "authorization_unit": "sessions",
            "units_remaining": 7,
            "authorization_end_date": "2027-01-15",
            "next_review_on": None,
            "latest_recommended_level": None,
            "payer_recommended_level": None,
            # (and short of the IOP's 9 hours this week: one session on Monday)
            "flags": ["authorized_level_below_clinical", "falling_short_this_week"],
        },
        "Dale": {
            "authorization": authorized["Dale current"].pk,
            "authorization_status": "denied",
            "authorized_level": "residential",
            "authorization_unit": "days",
            "units_remaining": 0,
            "authorization_end_date": "2026-11-18",
            "next_review_on": None,
            "latest_recommended_level": None,
            "payer_recommended_level": "iop",
            "flags": [],
        },
        "Nye": {
            "authorization": authorized["Nye current"].pk,
            "authorization_status": "requested",
            "authorized_level": "outpatient",
            "authorization_unit": "sessions",
            "units_remaining": None,
            "authorization_end_date": "2026-12-02",
            "next_review_on": None,
            "latest_recommended_level": None,
            "payer_recommended_level": None,
            "flags": [],
        },
    }


def test_a_stay_without_an_authorization_has_empty_columns(clinician, clinic, admissions):
    house = ProgramFactory(clinic=clinic, name="House", level=Level.RESIDENTIAL, capacity=10)
    patient = PatientFactory(clinic=clinic, actor=admissions, last_name="Solo")
    admit(patient, house, day("2026-11-30"))

    [row] = reports.step_down_board(user=clinician)

    assert {key: row[key] for key in COLUMNS} == {
        **dict.fromkeys(COLUMNS[:-1]),
        "flags": [],
    }


def test_the_in_force_authorization_follows_the_board_s_today(clinician, authorized):
    # On 11-25 Reyes's first authorization (11-21 to 11-27) is in force: 5 days used of 7.
    rows = {
        row["patient_name"].split(",")[0]: row
        for row in reports.step_down_board(user=clinician, today=day("2026-11-25"))
    }

    reyes = rows["Reyes"]
    assert (reyes["authorization_end_date"], reyes["units_remaining"]) == (day("2026-11-27"), 2)
    assert reyes["flags"] == ["authorization_ends_before_planned_end"]


def test_an_appeal_won_withdraws_the_payer_s_recommendation(clinician, admissions, authorized):
    appeal = authorizations.review_schedule(
        actor=admissions,
        authorization=authorized["Dale current"],
        kind="appeal",
        scheduled_on=day("2026-11-20"),
    )
    authorizations.review_record(
        actor=admissions,
        review=appeal,
        outcome="approved_more",
        done_on=day("2026-11-20"),
        units_added=7,
        end_date=day("2026-11-25"),
    )

    rows = {
        row["patient_name"].split(",")[0]: row for row in reports.step_down_board(user=clinician)
    }

    assert rows["Dale"]["payer_recommended_level"] is None


@pytest.mark.parametrize(
    ("flag", "names"),
    [
        ("authorization_ends_before_planned_end", ["Reyes, Rio"]),
        ("authorized_level_below_clinical", ["Irwin, Ivy"]),
    ],
)
def test_the_board_filters_by_the_authorization_flags(
    client_for, clinician, authorized, flag, names
):
    response = client_for(clinician).get(STEP_DOWN, {"flag": flag})

    assert response.status_code == 200, response.json()
    assert [row["patient_name"] for row in response.json()["results"]] == names
    assert [row["patient_name"] for row in reports.step_down_board(user=clinician, flag=flag)] == (
        names
    )


# Census -------------------------------------------------------------------------------------------


@pytest.fixture
def census_house(clinic, admissions):
    """A residential house over 11-28 to 12-04 (see each comment)."""
    house = ProgramFactory(clinic=clinic, name="House", level=Level.RESIDENTIAL, capacity=10)
    people = [
        PatientFactory(clinic=clinic, actor=admissions, first_name=name, last_name="Census")
        for name in ("Ada", "Bo", "Cy", "Di")
    ]
    # Ada, in since 11-20: a secondary payer's IOP days 11-28 to 12-03 (below the house's
    # level), the primary payer's residential days from 12-01 (mid-range): authorized every
    # day, below the level only before 12-01.
    ada = admit(people[0], house, day("2026-11-20"))
    authorize(ada, admissions, "2026-12-01", "2026-12-10", 10)
    secondary = CoverageFactory(patient=ada.patient, priority="secondary", actor=admissions)
    authorize(ada, admissions, "2026-11-28", "2026-12-03", 6, level=Level.IOP, coverage=secondary)
    # Bo, in 11-25 to 12-03 (discharged): IOP sessions authorized through 12-31: authorized
    # and below the level while in, 11-28 to 12-02.
    bo = admit(people[1], house, day("2026-11-25"))
    authorize(bo, admissions, "2026-11-25", "2026-12-31", 12, level=Level.IOP)
    discharge(bo, day("2026-12-03"))
    # Cy, in since 11-29: only requested; an open review due 12-02 (counted) and one done that
    # day (not counted).
    cy = admit(people[2], house, day("2026-11-29"))
    request = authorize(cy, admissions, "2026-11-29", "2026-12-05", 7, status="requested")
    for _ in range(2):
        authorizations.review_schedule(
            actor=admissions, authorization=request, kind="initial", scheduled_on=day("2026-12-02")
        )
    done = request.reviews.order_by("id").last()
    authorizations.review_record(
        actor=admissions, review=done, outcome="pending_information", done_on=day("2026-12-01")
    )
    # Di, admitted from 12-03 (a reservation, not an admitted patient): approved from 12-03,
    # not counted.
    di = admit(people[3], house, day("2026-12-03"))
    authorize(di, admissions, "2026-12-03", "2026-12-16", 14)
    return house


def test_the_census_counts_authorized_patients_and_reviews_due(client_for, clinician, census_house):
    response = client_for(clinician).get(
        CENSUS, {"program": census_house.pk, "start": "2026-11-28", "end": "2026-12-04"}
    )

    assert response.status_code == 200, response.json()
    [row] = response.json()["results"]
    figures = [
        (
            entry["date"][5:],
            entry["admitted"],
            entry["reserved"],
            entry["authorized"],
            entry["authorized_below_level"],
            entry["reviews_due"],
        )
        for entry in row["days"]
    ]
    assert figures == [
        # day, admitted, reserved, authorized, below the level, reviews due
        ("11-28", 2, 0, 2, 2, 0),  # Ada (IOP only) and Bo
        ("11-29", 3, 0, 2, 2, 0),  # Cy in, not authorized
        ("11-30", 3, 0, 2, 2, 0),
        ("12-01", 3, 0, 2, 1, 0),  # Ada's residential days begin
        ("12-02", 3, 0, 2, 1, 1),  # Cy's open review
        ("12-03", 2, 1, 1, 0, 0),  # Bo out, Di reserved
        ("12-04", 2, 1, 1, 0, 0),
    ]
