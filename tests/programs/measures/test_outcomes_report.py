"""The outcomes report (issue 24, item 6): per program and month of measurement, the patients
measured, the share improved, the median PHQ-9 change and the measures completed against due,
computed here by hand for a small case; constant queries; the API and the admin page."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Level
from programs.reports_admissions import Month
from programs.reports_outcomes import outcomes_report
from tests.factories import (
    MeasureResponseFactory,
    PatientFactory,
    ProgramFactory,
    admin_login,
    staff_user,
)
from tests.programs.reports.helpers import admit, discharge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

OUTCOMES = "/api/v1/reports/outcomes/"
OCTOBER, NOVEMBER = Month(2026, 10), Month(2026, 11)


def on(day: str) -> datetime.datetime:
    """10:00 or 11:00 in New York that day: the clinic's date is the day."""
    return datetime.datetime.fromisoformat(day).replace(hour=15, tzinfo=datetime.UTC)


def person(clinic, first_name):
    return PatientFactory(
        clinic=clinic,
        first_name=first_name,
        last_name="Quill",
        date_of_birth=datetime.date(1990, 1, 1),
    )


@pytest.fixture
def case(clinic):
    """IOP and outpatient schedule the PHQ-9 and GAD-7 at admission and every 14 days, the BAM
    at admission and every 30 days (the defaults of their level)."""
    iop = ProgramFactory(clinic=clinic, name="Day IOP", level=Level.IOP, capacity=10)
    outpatient = ProgramFactory(
        clinic=clinic, name="Outpatient", level=Level.OUTPATIENT, capacity=10
    )
    far = datetime.date(2027, 1, 30)

    def responses(stay, *given):
        for instrument, total, day in given:
            MeasureResponseFactory(
                enrollment=stay, instrument=instrument, total=total, completed_at=on(day)
            )

    # Amy: in IOP since 1 October, still there
    amy = admit(person(clinic, "Amy"), iop, datetime.date(2026, 10, 1), planned_end_date=far)
    responses(
        amy,
        ("phq9", 15, "2026-10-01"),
        ("gad7", 12, "2026-10-01"),
        ("bam", 6, "2026-10-01"),
        ("phq9", 12, "2026-10-15"),
        ("phq9", 8, "2026-11-05"),
        ("gad7", 11, "2026-11-05"),
    )
    # Ben: in IOP from 20 October, discharged on 10 November
    ben = admit(
        person(clinic, "Ben"),
        iop,
        datetime.date(2026, 10, 20),
        planned_end_date=datetime.date(2026, 11, 20),
    )
    responses(
        ben,
        ("phq9", 6, "2026-10-20"),
        ("gad7", 4, "2026-10-20"),
        ("phq9", 11, "2026-11-03"),
        ("gad7", 9, "2026-11-03"),
    )
    discharge(ben, datetime.date(2026, 11, 10))
    # Cid: outpatient from 10 November, one PHQ-9 and an AUDIT-C the program does not schedule
    cid = admit(
        person(clinic, "Cid"), outpatient, datetime.date(2026, 11, 10), planned_end_date=far
    )
    responses(cid, ("phq9", 20, "2026-11-10"), ("audit_c", 2, "2026-11-12"))
    return {"iop": iop, "outpatient": outpatient}


def figures(
    patients_measured, with_follow_up, improved, improved_share, median, completed, due
) -> dict:
    return {
        "patients_measured": patients_measured,
        "with_follow_up": with_follow_up,
        "improved": improved,
        "improved_share": improved_share,
        "median_change": median,
        "completed": completed,
        "due": due,
    }


EMPTY = figures(0, 0, 0, None, None, 0, 0)


def test_a_small_case_computed_by_hand(supervisor, case):
    report = outcomes_report(user=supervisor, start=OCTOBER, end=NOVEMBER)

    # Due, by the schedules' rules (to 30 November, Ben's to his discharge on 10 November):
    # Amy's PHQ-9 on 1 Oct (admission), 15 Oct, 29 Oct (14 days after the 15th; answered on
    #   5 Nov), 19 Nov; her GAD-7 on 1 Oct, 15 Oct (answered 5 Nov), 19 Nov; her BAM on 1 Oct
    #   and 31 Oct: October 7, November 2.
    # Ben's PHQ-9 and GAD-7 on 20 Oct and 3 Nov (the 17th is after his discharge), his BAM on
    #   20 Oct: October 3, November 2.
    # Cid's PHQ-9 on 10 and 24 Nov, GAD-7 and BAM on 10 Nov: November 4.
    # Improved (as of each month's end, two PHQ-9 or GAD-7 or more):
    # October: Amy's PHQ-9 15 → 12 (−3, not below 10): followed, not improved; Ben has one each.
    # November: Amy's PHQ-9 15 → 8 (−7): improved; Ben's GAD-7 4 → 9 (below 10): improved,
    #   though his PHQ-9 went 6 → 11 (+5). Median PHQ-9 change of −7 and +5: −1.
    iop, outpatient = report["programs"]
    assert (iop["program_name"], outpatient["program_name"]) == ("Day IOP", "Outpatient")
    assert iop["months"] == [
        {"month": "2026-10", **figures(2, 1, 0, 0.0, -3.0, 6, 10)},
        {"month": "2026-11", **figures(2, 2, 2, 1.0, -1.0, 4, 4)},
    ]
    assert iop["total"] == figures(2, 2, 2, 1.0, -1.0, 10, 14)
    # Cid's AUDIT-C measures him but is no scheduled measure completed
    assert outpatient["months"] == [
        {"month": "2026-10", **EMPTY},
        {"month": "2026-11", **figures(1, 0, 0, None, None, 1, 4)},
    ]
    assert report["months"] == [
        {"month": "2026-10", **figures(2, 1, 0, 0.0, -3.0, 6, 10)},
        {"month": "2026-11", **figures(3, 2, 2, 1.0, -1.0, 5, 8)},
    ]
    assert report["total"] == figures(3, 2, 2, 1.0, -1.0, 11, 18)


def test_a_narrower_report_by_program_and_months(supervisor, case):
    report = outcomes_report(
        user=supervisor, start=NOVEMBER, end=NOVEMBER, program=case["outpatient"].pk
    )

    assert [p["program_name"] for p in report["programs"]] == ["Outpatient"]
    assert report["total"] == figures(1, 0, 0, None, None, 1, 4)


def test_the_report_costs_the_same_queries_whatever_the_range_and_the_data(
    supervisor, case, clinic
):
    def count(start, end):
        with CaptureQueriesContext(connection) as queries:
            outcomes_report(user=supervisor, start=start, end=end)
        return len(queries)

    outcomes_report(user=supervisor, start=OCTOBER, end=NOVEMBER)  # the caller's clinics cached
    short = count(NOVEMBER, NOVEMBER)
    long = count(Month(2024, 12), NOVEMBER)
    # more stays, programs and responses
    more = ProgramFactory(clinic=clinic, name="Evening IOP", level=Level.IOP, capacity=20)
    for n in range(6):
        stay = admit(person(clinic, f"P{n}"), more, datetime.date(2026, 9, 1))
        for day in ("2026-09-01", "2026-10-01", "2026-11-01"):
            MeasureResponseFactory(
                enrollment=stay, instrument="phq9", total=10 + n, completed_at=on(day)
            )

    # the programs, their schedules, the stays, their responses
    assert short == long == count(Month(2024, 12), NOVEMBER) == 4


def test_the_api_reads_the_report_for_clinicians_and_supervisors(
    client_for, clinician, supervisor, admissions, case, other_clinic
):
    elsewhere = ProgramFactory(clinic=other_clinic, name="Elsewhere", level=Level.IOP)
    stay = admit(person(other_clinic, "Dee"), elsewhere, datetime.date(2026, 11, 2))
    MeasureResponseFactory(
        enrollment=stay, instrument="phq9", total=9, completed_at=on("2026-11-02")
    )

    for user in (clinician, supervisor):
        response = client_for(user).get(OUTCOMES, {"start": "2026-10", "end": "2026-11"})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert [p["program_name"] for p in body["programs"]] == ["Day IOP", "Outpatient"]
        assert body["total"] == figures(3, 2, 2, 1.0, -1.0, 11, 18)
        assert (
            response["Cache-Control"].startswith("no-store")
            or "no-store" in response["Cache-Control"]
        )
    narrowed = client_for(supervisor).get(
        OUTCOMES, {"start": "2026-11", "end": "2026-11", "program": case["iop"].pk}
    )
    assert [p["program"] for p in narrowed.json()["programs"]] == [case["iop"].pk]
    assert client_for(admissions).get(OUTCOMES).status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-11", "end": "2026-10"}, "end"),
        ({"start": "2023-01", "end": "2026-11"}, "end"),
        ({"start": "2026-13"}, "start"),
        ({"end": "November"}, "end"),
        ({"program": "0"}, "program"),
        ({"start": "9999-12"}, "start"),  # twelve months from it are no dates
        ({"end": "0001-01"}, "end"),
    ],
)
def test_the_api_refuses_a_bad_range_with_a_400(client_for, supervisor, case, query, field):
    response = client_for(supervisor).get(OUTCOMES, query)

    assert response.status_code == 400
    assert field in str(response.json())


def test_the_default_range_is_the_last_twelve_months(client_for, supervisor, case):
    body = client_for(supervisor).get(OUTCOMES).json()

    assert (body["start"], body["end"]) == ("2026-01", "2026-12")
    assert len(body["months"]) == 12


def test_the_admin_page_shows_a_table_and_a_chart(client, clinic, case):
    supervisor = staff_user(role="supervisor", clinics=[clinic])
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)

    response = client.get(
        "/admin/programs/enrollment/outcomes-report/", {"start": "2026-10", "end": "2026-11"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="board-chart"' in page
    assert "Measures due and completed, share improved, 2026-10 to 2026-11" in page
    assert "<td>Day IOP</td><td>2026-11</td><td>2</td><td>2</td><td>2</td><td>1.0</td>" in page
    assert "/admin/programs/enrollment/outcomes-report/" in client.get("/admin/").content.decode()
    refused = client.get(
        "/admin/programs/enrollment/outcomes-report/", {"start": "2026-11", "end": "2026-10"}
    )
    assert "The end cannot be before the start" in refused.content.decode()


def test_the_admin_page_is_for_clinicians_and_supervisors(client, clinic):
    admissions = staff_user(role="admissions", clinics=[clinic])
    admissions.is_staff = True
    admissions.save(update_fields=["is_staff"])
    admin_login(client, admissions)

    assert client.get("/admin/programs/enrollment/outcomes-report/").status_code == 403
    assert "outcomes-report" not in client.get("/admin/").content.decode()
