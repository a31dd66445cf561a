"""The continuity measure computed by hand (see conftest.case): eligibility, the 7- and 30-day
visits (sessions by the clinic's date, visits elsewhere, absences and other clinics not
counting), month boundaries, readmissions within and after 30 days, who sees the patients."""

import datetime

import pytest

from programs.reports_admissions import Month
from programs.reports_continuity import continuity_report
from tests.factories import staff_user
from tests.programs.continuity_report.helpers import at, attended, day

pytestmark = pytest.mark.django_db

OCTOBER, NOVEMBER = Month(2026, 10), Month(2026, 11)


def report_of(user, start=OCTOBER, end=NOVEMBER, **filters):
    return continuity_report(
        user=user, start=start, end=end, now=datetime.datetime.now(datetime.UTC), **filters
    )


def program_row(report, name):
    return next(p for p in report["programs"] if p["program_name"] == name)


def month_of(row, month):
    return next(m for m in row["months"] if m["month"] == month)


def figures(row):
    return {k: v for k, v in row.items() if k not in ("month", "patients")}


def test_november_by_hand(case, supervisor):
    # when
    report = report_of(supervisor)
    # then
    november = month_of(program_row(report, "Harbor House"), "2026-11")
    assert figures(november) == {
        "eligible": 6,  # Ann, Bob, Cat, Dan, Gil (stepped down to IOP), Ivy
        "followed_up_7_days": 2,  # Ann (day 7 by the clinic's date), Cat (elsewhere, day 5)
        "followed_up_30_days": 4,  # and Bob (outpatient, day 12), Gil (IOP, day 10)
        "rate_7_days": 0.3333,
        "rate_30_days": 0.6667,
        "window_open": 2,  # Dan and Ivy: not followed up, their 30 days not all passed
        "discharges": 5,  # not Gil's transition
        "readmitted": 1,  # Dan, 15 days after
        "readmission_rate": 0.2,
    }


def test_october_by_hand_and_the_month_boundary(case, supervisor):
    report = report_of(supervisor)
    october = month_of(program_row(report, "Harbor House"), "2026-10")
    assert figures(october) == {
        "eligible": 3,  # Jon (the 31st), Kim, Lee; not Mo (September)
        "followed_up_7_days": 1,  # Jon, on 11-01
        "followed_up_30_days": 1,
        "rate_7_days": 0.3333,
        "rate_30_days": 0.3333,
        "window_open": 0,
        "discharges": 3,
        "readmitted": 1,  # Lee at 30 days; not Kim at 31
        "readmission_rate": 0.3333,
    }
    assert [p["patient_name"] for p in october["patients"]] == [
        "King, Kim",
        "Lowe, Lee",
        "Judd, Jon",
    ]


def test_totals_and_the_programs_covered(case, supervisor):
    report = report_of(supervisor)
    # Only high-intensity programs: not the IOP (Fay's discharge) nor outpatient.
    assert [p["program_name"] for p in report["programs"]] == ["Day PHP", "Harbor House"]
    php = program_row(report, "Day PHP")
    assert php["total"]["eligible"] == 0
    assert php["total"]["rate_7_days"] is None
    assert report["total"] == {
        "eligible": 9,
        "followed_up_7_days": 3,
        "followed_up_30_days": 5,
        "rate_7_days": 0.3333,
        "rate_30_days": 0.5556,
        "window_open": 2,
        "discharges": 8,
        "readmitted": 2,
        "readmission_rate": 0.25,
    }
    assert [m["month"] for m in report["months"]] == ["2026-10", "2026-11"]
    assert report["months"][1]["eligible"] == 6
    assert "patients" not in report["months"][1]


def test_a_supervisor_sees_who_is_counted(case, supervisor):
    report = report_of(supervisor, start=NOVEMBER)
    patients = month_of(program_row(report, "Harbor House"), "2026-11")["patients"]
    s = case["stays"]
    assert [
        (p["enrollment"], p["discharge_date"], p["followed_up_on"], p["readmitted_on"])
        for p in patients
    ] == [
        (s["Ann"].pk, day("2026-11-02"), day("2026-11-09"), None),
        (s["Bob"].pk, day("2026-11-03"), day("2026-11-15"), None),
        (s["Cat"].pk, day("2026-11-04"), day("2026-11-09"), None),
        (s["Dan"].pk, day("2026-11-05"), None, day("2026-11-20")),
        (s["Gil"].pk, day("2026-11-10"), day("2026-11-20"), None),
        (s["Ivy"].pk, day("2026-11-30"), None, None),
    ]
    assert patients[0]["patient_name"] == "Abbot, Ann"
    assert patients[0]["patient"] == s["Ann"].patient_id
    assert [p["transferred"] for p in patients] == [False, False, False, False, True, False]
    assert report["lists_patients"] is True


def test_a_clinician_gets_the_figures_without_the_list(case, clinician, clinic):
    report = report_of(clinician)
    harbor = program_row(report, "Harbor House")
    assert month_of(harbor, "2026-11")["eligible"] == 6
    assert all(m["patients"] is None for m in harbor["months"])
    assert report["lists_patients"] is False


def test_staff_of_another_clinic_see_none_of_it(case, other_clinic):
    report = report_of(staff_user(role="supervisor", clinics=[other_clinic]))
    assert report["programs"] == []
    assert report["total"]["eligible"] == 0


def test_a_visit_after_30_days_does_not_count(case, supervisor):
    # Ivy's first visit on day 31
    attended(case["stays"]["Ivy"].patient, case["programs"]["iop"], at("2026-12-31"))
    report = report_of(supervisor, start=NOVEMBER)
    november = month_of(program_row(report, "Harbor House"), "2026-11")
    assert november["followed_up_30_days"] == 4
    assert november["patients"][-1]["followed_up_on"] is None
