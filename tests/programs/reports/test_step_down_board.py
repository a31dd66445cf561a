"""The step-down board: rows, flags, filters, pages across time zones, audit."""

import datetime
import random

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from patients.models import Level
from programs import reports
from tests.factories import ProgramFactory, staff_user
from tests.programs.reports.helpers import STEP_DOWN, admit, bulk_patients, day

pytestmark = pytest.mark.django_db


def test_step_down_board_rows_and_flags(client_for, clinician, board):
    residential, iop, _outpatient = board["programs"]
    rows = board["rows"]

    response = client_for(clinician).get(STEP_DOWN)

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    # longest in the program first
    # longest in the program first; equal stays by the latest enrollment first
    assert [r["patient_name"] for r in results] == [
        "Cole, Cid",
        "Baker, Ben",
        "Adams, Amy",
        "Evans, Eve",
        "Diaz, Dee",
    ]
    by_name = {r["patient_name"].split(",")[0]: r for r in results}
    assert by_name["Baker"] == {
        "enrollment": rows["Baker"].pk,
        "patient": rows["Baker"].patient_id,
        "patient_name": "Baker, Ben",
        "program": residential.pk,
        "level": "residential",
        "start_date": "2026-11-02",
        "days_in_program": 29,
        "planned_end_date": "2026-12-02",
        "min_stay_days": 28,
        "min_stay_reached": True,
        "latest_assessment": rows["Baker latest"].pk,
        "latest_recommended_level": "residential",
        "latest_level": "iop",
        "authorization": None,
        "authorization_status": None,
        "authorized_level": None,
        "authorization_unit": None,
        "units_remaining": None,
        "authorization_end_date": None,
        "next_review_on": None,
        "payer_recommended_level": None,
        "adherence": None,
        "sessions_expected": 0,
        "sessions_attended": 0,
        "no_show_rate": None,
        "hours_this_week": "0.00",
        "weekly_hours_min": None,
        "measures": [],
        "readmission": False,
        "unsigned_notes": 0,
        "flags": ["ready_for_step_down"],
    }
    summary = {
        name: (
            row["days_in_program"],
            row["min_stay_reached"],
            row["latest_level"],
            row["flags"],
        )
        for name, row in by_name.items()
    }
    assert summary == {
        "Adams": (11, False, "iop", []),
        "Baker": (29, True, "iop", ["ready_for_step_down"]),
        "Cole": (30, True, "outpatient", ["past_planned_end"]),
        "Diaz": (10, False, None, ["gap_after_transition"]),
        "Evans": (10, False, None, []),
    }
    assert by_name["Cole"]["min_stay_days"] is None
    assert by_name["Diaz"]["program"] == iop.pk
    assert by_name["Diaz"]["latest_assessment"] is None


@pytest.mark.parametrize(
    ("flag", "names"),
    [
        ("ready_for_step_down", ["Baker, Ben"]),
        ("past_planned_end", ["Cole, Cid"]),
        ("gap_after_transition", ["Diaz, Dee"]),
    ],
)
def test_step_down_board_filters_by_flag(client_for, clinician, board, flag, names):
    results = client_for(clinician).get(STEP_DOWN, {"flag": flag}).json()["results"]

    assert [r["patient_name"] for r in results] == names


def test_step_down_board_filters_by_program_and_level(client_for, clinician, board):
    residential, _iop, _outpatient = board["programs"]
    client = client_for(clinician)

    def names(**params):
        return sorted(r["patient_name"] for r in client.get(STEP_DOWN, params).json()["results"])

    assert names(program=residential.pk) == ["Adams, Amy", "Baker, Ben"]
    assert names(level="iop") == ["Diaz, Dee", "Evans, Eve"]
    assert names(ordering="patient_name", level="outpatient") == ["Cole, Cid"]


def test_step_down_board_rejects_an_unknown_flag(client_for, clinician, board):
    response = client_for(clinician).get(STEP_DOWN, {"flag": "sleepy"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["flag"]


def test_step_down_gap_flag_follows_the_clock(clinician, board):
    # a week after the move, no session yet is still within the target
    flags = {
        row["patient_name"]: row["flags"]
        for row in reports.step_down_board(user=clinician, today=day("2026-11-28"))
    }

    assert flags["Diaz, Dee"] == []


@pytest.mark.parametrize("ordering", list(reports.STEP_DOWN_ORDERINGS))
@pytest.mark.parametrize("flag", [None, *reports.FLAGS])
def test_step_down_pages_are_the_boards_rows(client_for, clinician, board, ordering, flag):
    # The API cuts the page first and annotates its rows after; page by page, the same rows as
    # the whole annotated board in the same order.
    params = {"ordering": ordering, **({"flag": flag} if flag else {})}
    expected = reports.step_down_board(user=clinician, **params)
    client = client_for(clinician)

    shown, page = [], 1
    while True:
        response = client.get(STEP_DOWN, {**params, "page_size": 2, "page": page})
        assert response.status_code == 200, response.json()
        shown += response.json()["results"]
        if response.json()["next"] is None:
            break
        page += 1

    assert [row["enrollment"] for row in shown] == [row["enrollment"] for row in expected]
    assert [row["flags"] for row in shown] == [row["flags"] for row in expected]
    assert expected or flag


@pytest.mark.parametrize("ordering", ["-days_in_program", "days_in_program"])
def test_step_down_pages_by_days_hold_across_time_zones(client_for, clinic, other_clinic, ordering):
    # At 11:00 UTC it is already the 2nd in Kiritimati (UTC+14) and still the 30th at UTC-12:
    # the page cut near the start dates (programs.reports._near_the_first) must allow for it.
    clinic.time_zone = "Etc/GMT+12"
    clinic.save(update_fields=["time_zone"])
    other_clinic.time_zone = "Pacific/Kiritimati"
    other_clinic.save(update_fields=["time_zone"])
    user = staff_user(role="supervisor", clinics=[clinic, other_clinic])
    rng = random.Random(7)
    for place in (clinic, other_clinic):
        program = ProgramFactory(
            clinic=place, name="Outpatient", level=Level.OUTPATIENT, capacity=100
        )
        for patient in bulk_patients(place, 25):
            admit(patient, program, day("2026-11-28") - datetime.timedelta(days=rng.randrange(8)))

    with time_machine.travel(datetime.datetime(2026, 12, 1, 11, tzinfo=datetime.UTC), tick=False):
        expected = [
            row["enrollment"] for row in reports.step_down_board(user=user, ordering=ordering)
        ]
        client = client_for(user)
        for size in (1, 3, 7):
            shown = []
            for page in range(1, 100):
                response = client.get(
                    STEP_DOWN, {"ordering": ordering, "page_size": size, "page": page}
                )
                if response.status_code == 404:
                    break
                shown += [row["enrollment"] for row in response.json()["results"]]
            assert shown == expected, size
    assert len(expected) == 50


def test_step_down_annotates_only_the_page(client_for, supervisor, board):
    with CaptureQueriesContext(connection) as captured:
        response = client_for(supervisor).get(STEP_DOWN, {"page_size": 2})

    assert response.status_code == 200
    [page] = [q["sql"] for q in captured if "LIMIT 3" in q["sql"]]
    # the page's cut reads no assessment, transition, authorization or review, and counts
    # nothing
    for table in ("patients_assessment", "programs_transition", "programs_authorization"):
        assert table not in page
    assert "programs_concurrentreview" not in page
    assert not [q for q in captured if "count(*) as" in q["sql"].lower()]
    # the annotations run over the page's two enrollments
    [annotated] = [q["sql"] for q in captured if "patients_assessment" in q["sql"]]
    first, second = (row["enrollment"] for row in response.json()["results"])
    where = annotated[annotated.rindex(" WHERE ") :]
    assert {f"IN ({first}, {second})", f"IN ({second}, {first})"} & {
        where[where.index("IN (") :][: len(f"IN ({first}, {second})")]
    }


def test_step_down_board_is_audited_per_page_and_never_cached(client_for, supervisor, board):
    response = client_for(supervisor).get(STEP_DOWN, {"page_size": 2})

    assert "no-store" in response.headers["Cache-Control"]
    shown = response.json()["results"]
    events = AuditEvent.objects.filter(action="list").order_by("id")
    assert [(e.object_type, e.object_id, e.patient_id, e.actor_id) for e in events] == [
        ("programs.enrollment", str(row["enrollment"]), row["patient"], supervisor.pk)
        for row in shown
    ]
    assert {e.clinic_id for e in events} == {board["programs"][0].clinic_id}
