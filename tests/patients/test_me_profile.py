"""The patient's own profile and reminder preferences: ``me/`` and ``me/preferences/``
(API.md "The patient's app")."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from clinic.models import AuditAction, AuditEvent
from clinic.notifications import backends
from patients.models import Patient
from programs.services import enrollments
from scheduling import reminders
from scheduling.models import Reminder
from tests.factories import PatientFactory, ProgramFactory, SessionFactory, app_account, client_of

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PREFERENCES = "/api/v1/me/preferences/"
NY = zoneinfo.ZoneInfo("America/New_York")


def snapshot(patient):
    """Every column of the patient's row, as stored."""
    fresh = Patient.objects.get(pk=patient.pk)
    return {**model_to_dict(fresh), "mrn": fresh.mrn, "updated_at": fresh.updated_at}


@pytest.fixture
def ana(clinic, admissions):
    return PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ana",
        email="ana@example.org",
        phone="+12025550143",
        reminder_channels=["email", "sms"],
    )


@pytest.fixture
def ben(clinic, admissions):
    return PatientFactory(
        clinic=clinic, actor=admissions, first_name="Ben", email="ben@example.org"
    )


@pytest.fixture
def ana_user(ana):
    return app_account(ana)


@pytest.fixture
def ana_client(ana_user):
    return client_of(ana_user)


@pytest.fixture
def ben_client(ben):
    return client_of(app_account(ben))


# me/ ----------------------------------------------------------------------------------------------


def test_me_shows_the_patients_own_profile_and_the_clinics_public_name(ana_client, ana, clinic):
    response = ana_client.get(ME)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": ana.pk,
        "first_name": "Ana",
        "last_name": "Lee",
        "email": "ana@example.org",
        "phone": "+12025550143",
        "reminder_channels": ["email", "sms"],
        "clinic": {"public_name": clinic.public_name, "time_zone": "America/New_York"},
    }


def test_me_leaves_out_internal_and_staff_fields(ana_client, ana, clinic):
    body = ana_client.get(ME).json()

    text = str(body)
    for hidden in (ana.mrn, "1985-03-03", clinic.name, "recorded_by", "created"):
        assert hidden not in text, hidden


def test_me_is_audited_and_not_cached(ana_client, ana, ana_user, clinic):
    response = ana_client.get(ME)

    assert "no-store" in response["Cache-Control"]
    [row] = AuditEvent.objects.filter(action=AuditAction.READ)
    assert (row.actor, row.object_type, row.object_id) == (
        ana_user,
        "patients.patient",
        str(ana.pk),
    )
    assert (row.patient_id, row.clinic_id) == (ana.pk, clinic.pk)


def test_each_token_sees_its_own_patient_whatever_the_request_names(
    ana_client, ben_client, ana, ben
):
    assert ana_client.get(ME, {"id": ben.pk}).json()["id"] == ana.pk
    assert ben_client.get(ME).json()["id"] == ben.pk
    assert ben_client.get(PREFERENCES, {"patient": ana.pk}).json()["reminder_channels"] == []
    assert AuditEvent.objects.filter(patient_id=ana.pk, action=AuditAction.READ).count() == 1
    assert AuditEvent.objects.filter(patient_id=ben.pk, action=AuditAction.READ).count() == 2


# Who may ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"), [(ME, "get"), (PREFERENCES, "get"), (PREFERENCES, "patch")]
)
def test_staff_and_unlinked_accounts_get_403_and_no_token_401(
    client_for, clinician, admissions, supervisor, user_without_role, ana, path, method
):
    for user in (clinician, admissions, supervisor, user_without_role):
        response = getattr(client_for(user), method)(path, {"reminder_channels": []})
        assert response.status_code == 403, (user, response.content)
        assert set(response.json()) == {"code", "detail", "fields"}
    assert getattr(APIClient(), method)(path, {"reminder_channels": []}).status_code == 401
    assert Patient.objects.get(pk=ana.pk).reminder_channels == ["email", "sms"]


def test_a_staff_member_linked_to_a_patient_record_is_still_refused(client_for, clinician, ana):
    ana.app_user = clinician
    ana.save(update_fields=["app_user"])

    assert client_for(clinician).get(ME).status_code == 403
    assert client_for(clinician).patch(PREFERENCES, {"reminder_channels": []}).status_code == 403
    assert Patient.objects.get(pk=ana.pk).reminder_channels == ["email", "sms"]


def test_me_takes_no_writes(ana_client):
    for method in ("post", "put", "patch", "delete"):
        assert getattr(ana_client, method)(ME, {}).status_code == 405, method
    assert ana_client.put(PREFERENCES, {"reminder_channels": []}).status_code == 405


# me/preferences/ ----------------------------------------------------------------------------------


def test_preferences_show_the_channels_and_what_can_be_turned_on(ana_client, ben_client):
    ana_body = ana_client.get(PREFERENCES).json()
    ben_body = ben_client.get(PREFERENCES).json()

    assert ana_body == {
        "reminder_channels": ["email", "sms"],
        "available_channels": ["email", "sms", "push"],
    }
    # Ben has no phone on file: SMS cannot be turned on.
    assert ben_body == {"reminder_channels": [], "available_channels": ["email", "push"]}


def test_preference_reads_are_audited_and_not_cached(ana_client, ana):
    response = ana_client.get(PREFERENCES)

    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, object_type="patients.patient", patient_id=ana.pk
    ).exists()


@time_machine.travel(datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC), tick=False)
def test_an_opt_out_through_the_app_records_who_and_when(ana_client, ana, ana_user, clinic):
    response = ana_client.patch(PREFERENCES, {"reminder_channels": ["email", "push"]})

    assert response.status_code == 200, response.content
    assert response.json()["reminder_channels"] == ["email", "push"]
    assert "no-store" in response["Cache-Control"]
    ana.refresh_from_db()
    assert ana.reminder_channels == ["email", "push"]
    assert ana.reminder_channels_recorded_by == ana_user
    assert ana.reminder_channels_recorded_at == datetime.datetime(
        2026, 12, 1, 15, tzinfo=datetime.UTC
    )
    [row] = AuditEvent.objects.filter(action=AuditAction.UPDATE, patient_id=ana.pk)
    assert (row.actor, row.object_type, row.clinic_id) == (ana_user, "patients.patient", clinic.pk)


def test_an_empty_list_opts_out_of_every_reminder(ana_client, ana):
    response = ana_client.patch(PREFERENCES, {"reminder_channels": []})

    assert response.status_code == 200, response.content
    ana.refresh_from_db()
    assert ana.reminder_channels == []


def test_a_patch_that_changes_nothing_is_still_audited_as_a_read(ana_client, ana):
    before = snapshot(ana)

    response = ana_client.patch(PREFERENCES, {"reminder_channels": ["email", "sms"]})

    assert response.status_code == 200
    assert snapshot(ana) == before
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE, patient_id=ana.pk).exists()
    # patient_update audits a change as an update and no change as a read.
    assert AuditEvent.objects.filter(action=AuditAction.READ, patient_id=ana.pk).count() == 1


def test_sms_without_a_phone_number_is_a_400_naming_the_field(ben_client, ben):
    before = snapshot(ben)

    response = ben_client.patch(PREFERENCES, {"reminder_channels": ["sms"]})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "SMS reminders need a phone number.",
        "fields": {"reminder_channels": ["SMS reminders need a phone number."]},
    }
    assert snapshot(ben) == before
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        (["email", "email"], "A channel is listed twice."),
        (["fax"], '0: "fax" is not a valid choice.'),
        ("email", 'Expected a list of items but got type "str".'),
        (None, "This field may not be null."),
    ],
)
def test_bad_channel_lists_are_refused_with_the_field_message(ana_client, ana, channels, message):
    before = snapshot(ana)

    response = ana_client.patch(PREFERENCES, {"reminder_channels": channels})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {"reminder_channels": [message]}
    assert snapshot(ana) == before


@pytest.mark.parametrize(
    "extra",
    [
        {"mrn": "9999999"},
        {"clinic": "OTHER"},
        {"first_name": "Eve"},
        {"last_name": "Mallory"},
        {"date_of_birth": "1970-01-01"},
        {"email": "eve@example.org"},
        {"phone": "+12025550199"},
        {"status": "discharged"},
        {"app_user": None},
        {"id": "BEN"},
        {"reminder_channels_recorded_by": None},
    ],
)
def test_other_fields_are_refused_and_change_nothing(ana_client, ana, ben, other_clinic, extra):
    name, value = next(iter(extra.items()))
    value = {"OTHER": other_clinic.pk, "BEN": ben.pk}.get(value, value)
    before, ben_before = snapshot(ana), snapshot(ben)

    response = ana_client.patch(PREFERENCES, {"reminder_channels": [], name: value})

    assert response.status_code == 400
    assert response.json()["fields"] == {name: ["This field cannot be changed here."]}
    assert snapshot(ana) == before
    assert snapshot(ben) == ben_before
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()


# An opt-out reaches reminders already planned ---------------------------------------------------


def test_an_opt_out_in_the_app_cancels_a_pending_sms_at_send_time(
    settings, clinic, clinician, admissions, ana, ana_client, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "clinic.notifications.backends.LocmemSMSBackend"
    program = ProgramFactory(
        clinic=clinic, name="Evening IOP", level="iop", track="evening", capacity=10
    )
    with time_machine.travel(datetime.datetime(2026, 12, 1, 10, tzinfo=NY), tick=False):
        starts = datetime.datetime(2026, 12, 4, 18, tzinfo=NY)
        SessionFactory(
            clinic=clinic,
            actor=clinician,
            program=program,
            title="Group",
            kind="group",
            starts_at=starts,
            ends_at=starts + datetime.timedelta(hours=3),
        )
        enrollments.enrollment_create(
            actor=admissions, patient=ana, program=program, start_date=datetime.date(2026, 12, 1)
        )
        assert Reminder.objects.filter(channel="sms", status="pending").exists()

        response = ana_client.patch(PREFERENCES, {"reminder_channels": ["email"]})
        assert response.status_code == 200

    with time_machine.travel(datetime.datetime(2026, 12, 3, 18, 1, tzinfo=NY), tick=False):
        wakes = []
        with django_capture_on_commit_callbacks(execute=True):
            reminders.dispatch(lambda: wakes.append(1))
        outcomes = [status for _ in wakes for status in reminders.drain().values()]

    assert sorted(outcomes) == ["cancelled", "sent"]
    sms = Reminder.objects.get(channel="sms", offset_minutes=1440)
    assert sms.status == "cancelled"
    assert sms.last_error == "The patient opted out of this channel."
    assert Reminder.objects.get(channel="email", offset_minutes=1440).status == "sent"
    assert backends.sms_outbox() == []
