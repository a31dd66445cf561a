"""A clinic's "today" is its own local date at the given instant (clinic.models.Clinic.today)."""

import datetime

from clinic.models import Clinic, zone_today


def test_a_clinic_s_today_is_its_local_date_at_the_given_instant():
    # given: 03:00 UTC, still the evening before in New York
    now = datetime.datetime(2031, 3, 4, 3, 0, tzinfo=datetime.UTC)

    # when / then
    assert Clinic(time_zone="America/New_York").today(now) == datetime.date(2031, 3, 3)
    assert Clinic(time_zone="Europe/Berlin").today(now) == datetime.date(2031, 3, 4)
    assert zone_today("America/New_York", now) == datetime.date(2031, 3, 3)
