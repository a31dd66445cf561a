"""The hand-computed case the modules of continuity_report/ share."""

import pytest

from programs.models import FollowUpOutcome
from tests.factories import ClinicFactory, ProgramFactory
from tests.programs.continuity_report.helpers import (
    at,
    attended,
    follow_up,
    moved,
    person,
    programs_of,
    stay,
)


@pytest.fixture
def case(clinic, frozen_time):
    """Today is 2026-12-01 in the clinic (New York). Each stay's comment says what it counts
    for; the figures are worked out in test_measure.py."""
    p = programs_of(clinic)
    residential, php, iop, outpatient = p["residential"], p["php"], p["iop"], p["outpatient"]
    elsewhere_iop = ProgramFactory(clinic=ClinicFactory(), name="Their IOP", level="iop")
    s = {}
    # November, Harbor House ------------------------------------------------------------------
    # Ann: discharged 11-02; an IOP session at 22:00 on 11-09 in New York (03:00 UTC on 11-10):
    # day 7 by the clinic's date -> 7 and 30 days
    ann = person(clinic, "Ann", "Abbot")
    s["Ann"] = stay(ann, residential, "2026-10-01", "2026-11-02")
    attended(ann, iop, at("2026-11-10", hour_utc=3))
    # Bob: discharged 11-03; absent from an IOP session on day 1 (no visit), present at an
    # outpatient session on day 12 -> 30 days only
    bob = person(clinic, "Bob", "Baker")
    s["Bob"] = stay(bob, residential, "2026-10-01", "2026-11-03")
    attended(bob, iop, at("2026-11-04"), status="absent")
    attended(bob, outpatient, at("2026-11-15"))
    # Cat: discharged 11-04; seen by another provider on day 5 -> 7 and 30 days
    cat = person(clinic, "Cat", "Cole")
    s["Cat"] = stay(cat, residential, "2026-10-01", "2026-11-04")
    follow_up(s["Cat"], FollowUpOutcome.SEEN_ELSEWHERE, seen_elsewhere_on="2026-11-09")
    # Dan: discharged 11-05; a session at another clinic's IOP on day 1 and a residential
    # group after his readmission on 11-20 (neither a visit) -> never; readmitted (15 days)
    dan = person(clinic, "Dan", "Diaz")
    s["Dan"] = stay(dan, residential, "2026-10-01", "2026-11-05")
    attended(dan, elsewhere_iop, at("2026-11-06"))
    s["Dan again"] = stay(dan, residential, "2026-11-20")
    attended(dan, residential, at("2026-11-21"))
    # Eve: discharged 11-06, then died (the follow-up call's outcome) -> not eligible
    eve = person(clinic, "Eve", "Evans")
    s["Eve"] = stay(eve, residential, "2026-10-01", "2026-11-06")
    follow_up(s["Eve"], FollowUpOutcome.DECEASED, days=2)
    # Fay: discharged 11-07 from IOP (not high-intensity) -> not in the report
    fay = person(clinic, "Fay", "Ford")
    s["Fay"] = stay(fay, iop, "2026-10-01", "2026-11-07")
    # Gil: stepped down to IOP on 11-10, first IOP session on day 10 -> eligible, 30 days only;
    # a transition, so not a discharge for readmissions (nor his IOP stay a readmission)
    gil = person(clinic, "Gil", "Gray")
    s["Gil"] = stay(gil, residential, "2026-10-01")
    s["Gil IOP"] = moved(s["Gil"], iop, "2026-11-10")
    attended(gil, iop, at("2026-11-20"))
    # Hal: stepped down to PHP on 11-12 (high-intensity care goes on) -> not eligible here
    hal = person(clinic, "Hal", "Hunt")
    s["Hal"] = stay(hal, residential, "2026-10-01")
    s["Hal PHP"] = moved(s["Hal"], php, "2026-11-12")
    attended(hal, php, at("2026-11-13"))
    # Ivy: discharged 11-30, no visit yet, her 30 days still running -> window open
    ivy = person(clinic, "Ivy", "Irwin")
    s["Ivy"] = stay(ivy, residential, "2026-10-01", "2026-11-30")
    # October, Harbor House -------------------------------------------------------------------
    # Jon: discharged 10-31 (October, the month's last day); outpatient session 11-01 -> 7 days
    jon = person(clinic, "Jon", "Judd")
    s["Jon"] = stay(jon, residential, "2026-09-01", "2026-10-31")
    attended(jon, outpatient, at("2026-11-01"))
    # Kim: discharged 10-05, readmitted 11-05 (31 days later) -> not a readmission
    kim = person(clinic, "Kim", "King")
    s["Kim"] = stay(kim, residential, "2026-09-01", "2026-10-05")
    s["Kim again"] = stay(kim, residential, "2026-11-05")
    # Lee: discharged 10-10, readmitted to IOP on 11-09 (30 days later) -> a readmission
    lee = person(clinic, "Lee", "Lowe")
    s["Lee"] = stay(lee, residential, "2026-09-01", "2026-10-10")
    s["Lee again"] = stay(lee, iop, "2026-11-09")
    # September: Mo, discharged 09-30, is outside an October-November range
    mo = person(clinic, "Mo", "Moss")
    s["Mo"] = stay(mo, residential, "2026-09-01", "2026-09-30")
    attended(mo, iop, at("2026-10-01"))
    return {"stays": s, "programs": p}
