"""The program list (bounds, counts, free places, query count) and the program constraints the
database holds."""

import pytest
from django.db import IntegrityError, transaction

from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory
from tests.programs.enrollments.helpers import TODAY, day, frozen

pytestmark = pytest.mark.django_db


# Programs -----------------------------------------------------------------------------------------


@frozen
def test_program_list_shows_bounds_counts_and_free_places(
    client_for, supervisor, admissions, residential, iop, patients
):
    services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )
    services.enrollment_create(
        actor=admissions, patient=patients[1], program=residential, start_date=day(5)
    )  # reserved: counts against free places

    rows = client_for(supervisor).get("/api/v1/programs/?level=residential").json()["results"]

    assert len(rows) == 1
    row = rows[0]
    assert {
        key: row[key]
        for key in [
            "level",
            "track",
            "capacity",
            "min_stay_days",
            "max_stay_days",
            "sessions_per_week_min",
            "session_hours_max",
            "active_count",
            "free_places",
        ]
    } == {
        "level": "residential",
        "track": None,
        "capacity": 2,
        "min_stay_days": 28,
        "max_stay_days": 90,
        "sessions_per_week_min": None,
        "session_hours_max": None,
        "active_count": 1,
        "free_places": 0,
    }


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"capacity": 0}, "program_capacity_positive"),
        # min > max cannot hold with any planned stay: one of the stay constraints refuses.
        ({"min_stay_days": 91}, "program_stay_bounds_ordered|program_default_stay"),
        ({"sessions_per_week_min": 6, "sessions_per_week_max": 5}, "program_cadence_ordered"),
        ({"sessions_per_week_max": 8}, "program_cadence_within_a_week"),
        ({"session_hours_min": 5}, "program_session_hours_ordered"),
        ({"track": "evening"}, "program_track_only_for_day_programs"),
    ],
)
def test_program_sanity_is_held_by_the_database(clinic, changes, constraint):
    level = (
        "iop"
        if "session_hours_min" in changes
        or "sessions_per_week_min" in changes
        or "sessions_per_week_max" in changes
        else "residential"
    )

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ProgramFactory(clinic=clinic, level=level, **{"capacity": 2, **changes})


@frozen
@pytest.mark.parametrize("page_size", [1, 20, 100])
def test_program_list_queries_do_not_grow_with_the_page(
    client_for, supervisor, clinic, admissions, page_size, django_assert_num_queries
):
    patient = PatientFactory(clinic=clinic, actor=admissions)
    for index in range(100):
        program = ProgramFactory(
            clinic=clinic, level="iop", capacity=3, name=f"IOP {index}", track="day"
        )
        services.enrollment_create(
            actor=admissions, patient=patient, program=program, start_date=TODAY
        )

    # roles, clinic ids, count, page, occupying enrollments, held offers
    with django_assert_num_queries(6):
        response = client_for(supervisor).get(f"/api/v1/programs/?page_size={page_size}")

    assert len(response.json()["results"]) == page_size
    assert {row["active_count"] for row in response.json()["results"]} == {1}
