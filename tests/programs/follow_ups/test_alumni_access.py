"""Alumni: after their last discharge, a patient with no current stay keeps the app for the
clinic's ``alumni_access_days``; from then on every ``me/`` endpoint answers 403
``alumni_access_ended`` with the date. Their check-ins still alert the care team, and a
follow-up appointment's reminder keeps the neutral text."""

import datetime

import pytest
from django.core import mail

from clinic.models import AlertKind, StaffAlert
from programs.selectors import alumni_access_ended_on
from programs.services import enrollments
from scheduling import services as calendar
from tests.factories import PatientFactory, app_account, client_of
from tests.programs.follow_ups.conftest import DISCHARGED_ON, at_noon, noon_in_new_york
from tests.scheduling.test_reminders import REVEALING

pytestmark = pytest.mark.django_db

ENDS_ON = DISCHARGED_ON + datetime.timedelta(days=365)
ME_PATHS = [
    "/api/v1/me/",
    "/api/v1/me/enrollments/",
    "/api/v1/me/aftercare-plan/",
    "/api/v1/me/check-ins/",
    "/api/v1/me/schedule/",
    "/api/v1/me/preferences/",
    "/api/v1/me/consents/",
    "/api/v1/me/disclosures/",
    "/api/v1/me/measures/",
]


@pytest.fixture
def alumnus(discharge):
    """A patient discharged on ``DISCHARGED_ON`` with an app account."""
    patient = discharge().patient
    app_account(patient)
    return patient


def get(patient, path, day):
    with at_noon(day):
        return client_of(patient.app_user).get(path)


@pytest.mark.parametrize("path", ME_PATHS)
def test_me_works_until_the_access_ends_then_answers_403(alumnus, path):
    inside = get(alumnus, path, ENDS_ON - datetime.timedelta(days=1))
    outside = get(alumnus, path, ENDS_ON)

    assert inside.status_code == 200, inside.json()
    assert outside.status_code == 403
    assert outside.json() == {
        "code": "alumni_access_ended",
        "detail": f"Your access to the app after your stay ended on {ENDS_ON:%Y-%m-%d}; call "
        "the clinic if you need it again.",
        "fields": {},
        "access_ended_on": ENDS_ON.isoformat(),
    }


def test_the_clinic_sets_the_period(alumnus):
    alumnus.clinic.alumni_access_days = 30
    alumnus.clinic.save(update_fields=["alumni_access_days"])
    ended = DISCHARGED_ON + datetime.timedelta(days=30)

    assert get(alumnus, "/api/v1/me/", ended - datetime.timedelta(days=1)).status_code == 200
    assert get(alumnus, "/api/v1/me/", ended).json()["access_ended_on"] == ended.isoformat()


def test_a_current_stay_or_no_discharge_keeps_access(alumnus, house, admissions, clinic):
    # given: back on the waitlist long after the window
    later = ENDS_ON + datetime.timedelta(days=10)
    with at_noon(later):
        enrollments.enrollment_create(
            actor=admissions, patient=alumnus, program=house, start_date=later, waitlist=True
        )
    never_discharged = PatientFactory(clinic=clinic)

    assert get(alumnus, "/api/v1/me/", later).status_code == 200
    assert alumni_access_ended_on(patient=never_discharged, now=noon_in_new_york(later)) is None


def test_the_rule_is_one_query(alumnus, django_assert_num_queries):
    with django_assert_num_queries(1):
        ended = alumni_access_ended_on(patient=alumnus, now=noon_in_new_york(ENDS_ON))

    assert ended == ENDS_ON


@pytest.mark.parametrize(
    ("day", "status"),
    [(ENDS_ON - datetime.timedelta(days=1), 200), (ENDS_ON, 403)],
    ids=["last day", "ended"],
)
def test_with_a_token_the_facts_come_in_the_accounts_own_query(alumnus, day, status):
    """The app's bearer token: the user's query loads what the rule is decided on, so the check
    asks nothing of its own, and answers as the rule does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    with at_noon(day):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(alumnus.app_user)}")
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/me/")

    assert response.status_code == status
    deciding = [q["sql"] for q in captured if '"discharge_date"' in q["sql"]]
    assert len(deciding) == 1, deciding
    assert '"auth_user"' in deciding[0]


def test_an_alumnus_check_in_alerts_the_care_team(alumnus, clinician):
    with at_noon(DISCHARGED_ON + datetime.timedelta(days=40)):
        response = client_of(alumnus.app_user).post(
            "/api/v1/me/check-ins/",
            {"craving": 9, "mood": 2, "used_substance": True},
            format="json",
        )

    assert response.status_code == 201, response.json()
    alert = StaffAlert.objects.get(kind=AlertKind.RISKY_CHECK_IN)
    assert (alert.recipient, alert.patient_id) == (clinician, alumnus.pk)


def test_a_follow_up_appointments_reminder_keeps_the_neutral_text(
    alumnus, clinic, clinician, send_due_reminders
):
    # given: an appointment a week after the discharge, for the discharged patient
    alumnus.email = "ana@example.org"
    alumnus.reminder_channels = ["email"]
    alumnus.save(update_fields=["email", "reminder_channels"])
    starts = noon_in_new_york(DISCHARGED_ON + datetime.timedelta(days=7))
    with at_noon(DISCHARGED_ON + datetime.timedelta(days=1)):
        calendar.session_create(
            actor=clinician,
            clinic=clinic,
            title="Post-discharge follow-up (residential aftercare)",
            kind="individual",
            starts_at=starts,
            ends_at=starts + datetime.timedelta(hours=1),
            patient=alumnus,
        )
    mail.outbox.clear()

    # when: the day before
    with at_noon(DISCHARGED_ON + datetime.timedelta(days=6)):
        assert "sent" in send_due_reminders()

    # then: the public name, the date and time, nothing about treatment or discharge
    assert mail.outbox
    for message in mail.outbox:
        for text in (message.subject, message.body):
            lowered = text.lower()
            assert not [w for w in [*REVEALING, "discharge", "follow-up"] if w in lowered], text
            assert clinic.public_name in text


def test_the_calendar_feed_closes_with_the_app(alumnus):
    from django.test import Client

    with at_noon(ENDS_ON - datetime.timedelta(days=1)):
        url = client_of(alumnus.app_user).get("/api/v1/me/calendar-feed/").json()["url"]
    path = url[url.index("/calendar/") :]

    with at_noon(ENDS_ON - datetime.timedelta(days=1)):
        inside = Client().get(path)
    with at_noon(ENDS_ON):
        outside = Client().get(path)

    assert inside.status_code == 200
    assert inside["Content-Type"].startswith("text/calendar")
    assert outside.status_code == 403
    assert outside.json()["code"] == "alumni_access_ended"
    assert outside.json()["access_ended_on"] == ENDS_ON.isoformat()
