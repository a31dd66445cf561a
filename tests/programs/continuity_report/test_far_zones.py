"""The first visits' sessions are read by a UTC range around the report's months: a clinic far
east or west of UTC still has its first and last days' sessions counted by its own date."""

import datetime

import pytest

from programs.reports_admissions import Month
from programs.reports_continuity import continuity_report
from tests.factories import ClinicFactory, staff_user
from tests.programs.continuity_report.helpers import at, attended, person, programs_of, stay

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("zone", "session_at", "followed_days"),
    [
        # 01:00 on 11-01 in Kiritimati (UTC+14) is 11:00 on 10-31 in UTC: day 0
        ("Pacific/Kiritimati", at("2026-10-31", hour_utc=11), 0),
        # 23:00 on 01-30 in Pago Pago (UTC-11) is 10:00 on 01-31 in UTC: day 30 of 12-31
        ("Pacific/Pago_Pago", at("2027-01-31", hour_utc=10), 30),
    ],
)
def test_a_session_on_the_window_s_edge_counts_by_the_clinic_s_date(
    frozen_time, zone, session_at, followed_days
):
    # given a discharge on the range's first or last day, its visit on the window's edge
    clinic = ClinicFactory(time_zone=zone)
    programs = programs_of(clinic)
    patient = person(clinic, "Ann", "Abbot")
    discharged_on = "2026-11-01" if followed_days == 0 else "2026-12-31"
    stay(patient, programs["residential"], "2026-10-01", discharged_on)
    attended(patient, programs["iop"], session_at)
    supervisor = staff_user(role="supervisor", clinics=[clinic])
    month = Month(2026, 11) if followed_days == 0 else Month(2026, 12)

    # when
    report = continuity_report(
        user=supervisor,
        start=month,
        end=month,
        now=datetime.datetime(2027, 3, 1, tzinfo=datetime.UTC),
    )

    # then
    residential = next(p for p in report["programs"] if p["program_name"] == "Harbor House")
    (listed,) = residential["months"][0]["patients"]
    expected = datetime.date.fromisoformat(discharged_on) + datetime.timedelta(days=followed_days)
    assert listed["followed_up_on"] == expected
    assert report["total"]["followed_up_30_days"] == 1
