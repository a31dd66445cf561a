"""Readmissions flagged where stays are shown: the step-down board's rows (``readmission``)
and, as the census shows counts, a per-program ``readmissions`` count of the admissions in its
range. The one rule (``programs.selectors.readmission_links``): an admission, not a transition's
continuation, within 30 days of the patient's discharge (not a transition) from the clinic."""

import pytest

from programs.reports import census, census_programs, step_down_board
from tests.factories import ClinicFactory, ProgramFactory, admin_login, staff_user
from tests.programs.continuity_report.helpers import (
    CONTINUITY,
    day,
    moved,
    person,
    programs_of,
    stay,
)
from tests.programs.reports.helpers import CENSUS, STEP_DOWN

pytestmark = pytest.mark.django_db


@pytest.fixture
def stays(clinic, frozen_time):
    """Today is 2026-12-01; each stay below is active today."""
    p = programs_of(clinic)
    s = {}
    # Ann: discharged 11-05, back in residential 11-20 (15 days) -> readmission
    ann = person(clinic, "Ann", "Abbot")
    stay(ann, p["residential"], "2026-10-01", "2026-11-05")
    s["Ann"] = stay(ann, p["residential"], "2026-11-20")
    # Bob: discharged 10-01 (AMA), in IOP from 10-31 (30 days, the window's last) -> readmission
    bob = person(clinic, "Bob", "Baker")
    stay(bob, p["residential"], "2026-09-01", "2026-10-01", reason="ama")
    s["Bob"] = stay(bob, p["iop"], "2026-10-31")
    # Cat: discharged 10-01, in IOP from 11-01 (31 days) -> not
    cat = person(clinic, "Cat", "Cole")
    stay(cat, p["residential"], "2026-09-01", "2026-10-01")
    s["Cat"] = stay(cat, p["iop"], "2026-11-01")
    # Dan: stepped down from residential to IOP on 11-20 -> the move is no discharge, nor his
    # IOP stay an admission
    dan = person(clinic, "Dan", "Diaz")
    s["Dan"] = moved(stay(dan, p["residential"], "2026-10-01"), p["iop"], "2026-11-20")
    # Eve: discharged from another clinic 11-10, admitted here 11-15 -> not (another clinic)
    eve = person(clinic, "Eve", "Evans")
    elsewhere = ProgramFactory(clinic=ClinicFactory(), name="Their House", level="residential")
    stay(eve, elsewhere, "2026-10-01", "2026-11-10")
    s["Eve"] = stay(eve, p["outpatient"], "2026-11-15")
    # Fay: discharged from outpatient 11-20, admitted to PHP on the same day -> readmission
    # (any discharge from the clinic: the flags are not the measure's high-intensity ones)
    fay = person(clinic, "Fay", "Ford")
    stay(fay, p["outpatient"], "2026-09-01", "2026-11-20")
    s["Fay"] = stay(fay, p["php"], "2026-11-20")
    return {"stays": s, "programs": p}


def test_the_step_down_board_flags_readmissions(client_for, supervisor, stays):
    body = client_for(supervisor).get(STEP_DOWN, {"page_size": 50}).json()

    flagged = {r["patient_name"]: r["readmission"] for r in body["results"]}
    assert flagged == {
        "Abbot, Ann": True,
        "Baker, Bob": True,
        "Cole, Cat": False,
        "Diaz, Dan": False,
        "Evans, Eve": False,
        "Ford, Fay": True,
    }


def test_the_boards_rows_agree_without_paging(supervisor, stays):
    rows = step_down_board(user=supervisor)

    assert sorted(r["patient_name"] for r in rows if r["readmission"]) == [
        "Abbot, Ann",
        "Baker, Bob",
        "Ford, Fay",
    ]


def test_the_census_counts_each_programs_readmissions_in_its_range(client_for, supervisor, stays):
    body = client_for(supervisor).get(CENSUS, {"start": "2026-11-01", "end": "2026-11-30"}).json()

    counts = {r["program"]["name"]: r["readmissions"] for r in body["results"]}
    # Ann (residential, 11-20), Fay (PHP, 11-20); not Bob, admitted 10-31, before the range
    assert counts == {"Harbor House": 1, "Day PHP": 1, "Evening IOP": 0, "Outpatient": 0}
    october = census(
        user=supervisor,
        start=day("2026-10-01"),
        end=day("2026-10-31"),
        programs_queryset=census_programs(user=supervisor),
    )
    assert {r["program"]["name"]: r["readmissions"] for r in october}["Evening IOP"] == 1


def test_the_report_counts_the_same_readmissions(client_for, supervisor, stays):
    body = client_for(supervisor).get(CONTINUITY, {"start": "2026-10", "end": "2026-11"}).json()

    harbor = next(p for p in body["programs"] if p["program_name"] == "Harbor House")
    # Ann's (11-05) and Bob's (10-01) discharges readmitted, Cat's not; Dan's a transition
    # (to IOP: eligible, not a discharge)
    assert harbor["total"]["discharges"] == 3
    assert harbor["total"]["readmitted"] == 2


def test_the_admin_boards_show_them(client, clinic, stays):
    supervisor = staff_user(role="supervisor", clinics=[clinic])
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)

    board = client.get("/admin/programs/enrollment/step-down/").content.decode()
    assert board.count('<strong class="readmission">readmission</strong>') == 3
    census_page = client.get(
        "/admin/programs/enrollment/census/", {"start": "2026-11-01", "end": "2026-11-30"}
    ).content.decode()
    assert census_page.count("1 readmission in the range") == 2
