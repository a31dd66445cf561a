"""The services under the admin refuse bed and discharge dates that would break a stay, with a
message, never a server error."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from clinic.errors import Conflict
from programs.models import BedAssignment, EnrollmentStatus
from programs.services import enrollments as services
from tests.programs.admin.helpers import ENROLLMENTS, enroll

pytestmark = pytest.mark.django_db


# 12. The services under the admin -----------------------------------------------------------------


def test_a_discharge_dated_before_the_patients_bed_assignment_is_refused_not_a_crash(
    admissions, alvarez, residential, beds
):
    """Admitted two days ago, given a bed today, discharged (recorded late) as of yesterday:
    the service must refuse with a message or end the bed assignment consistently; an
    IntegrityError from the bed_assignment_dates_ordered constraint is a bug."""
    today = residential.clinic.today()
    stay = enroll(admissions, alvarez, residential, start_date=today - datetime.timedelta(days=2))
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0])

    try:
        services.enrollment_discharge(
            actor=admissions,
            enrollment=stay,
            date=today - datetime.timedelta(days=1),
            reason="completed",
        )
    except (ValidationError, Conflict):
        stay.refresh_from_db()
        assert stay.status == EnrollmentStatus.ADMITTED
    else:
        assignment = BedAssignment.objects.get(enrollment=stay)
        assert assignment.end_date is not None
        assert assignment.end_date >= assignment.start_date


def test_the_discharge_page_never_fails_with_a_server_error_on_that_case(
    admissions_client, admissions, alvarez, residential, beds
):
    today = residential.clinic.today()
    stay = enroll(admissions, alvarez, residential, start_date=today - datetime.timedelta(days=2))
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0])

    response = admissions_client.post(
        f"{ENROLLMENTS}{stay.pk}/discharge/",
        {"date": (today - datetime.timedelta(days=1)).isoformat(), "reason": "completed"},
    )

    assert response.status_code in (200, 302)
    if response.status_code == 200:
        assert response.context["form"].non_field_errors()


def test_moving_a_patient_to_another_bed_from_before_their_current_bed_is_refused_cleanly(
    admissions, alvarez, residential, beds
):
    """Admitted two days ago, put in bed A today, then moved to bed B from the admission date (a
    late correction): the service must refuse with a message or keep the assignments
    consistent; an IntegrityError (bed_assignment_dates_ordered) is a bug."""
    today = residential.clinic.today()
    admitted_on = today - datetime.timedelta(days=2)
    stay = enroll(admissions, alvarez, residential, start_date=admitted_on)
    services.bed_assign(actor=admissions, enrollment=stay, bed=beds[0])

    try:
        services.bed_assign(actor=admissions, enrollment=stay, bed=beds[1], date=admitted_on)
    except (ValidationError, Conflict):
        assert BedAssignment.objects.get(enrollment=stay).bed == beds[0]
    else:
        for assignment in BedAssignment.objects.filter(enrollment=stay):
            assert assignment.end_date is None or assignment.end_date >= assignment.start_date
