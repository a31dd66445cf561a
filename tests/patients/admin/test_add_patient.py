"""Adding a patient through the service: MRN, audit row, the services' messages, no names in the
admin's log."""

import datetime
import importlib
import re

import pytest
from django.apps import apps as django_apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django.utils.html import escape

from clinic.models import AuditAction
from patients.admin import PatientAdmin
from patients.models import Patient
from tests.factories import PatientFactory
from tests.patients.admin.helpers import PATIENTS, audit_rows, html, patient_form, post_patient_add

pytestmark = pytest.mark.django_db


# 3. Adding a patient ------------------------------------------------------------------------------


def test_adding_a_patient_creates_it_with_an_mrn_and_an_audit_row(
    admissions_client, admissions, clinic
):
    response = post_patient_add(admissions_client, patient_form(clinic))

    assert response.status_code == 302
    patient = Patient.objects.get()
    assert (patient.clinic, patient.first_name, patient.last_name) == (clinic, "Dana", "Okafor")
    assert patient.date_of_birth == datetime.date(1991, 5, 17)
    assert str(patient.phone) == "+12025550188"
    assert patient.reminder_channels == ["email", "sms"]
    assert patient.reminder_channels_recorded_by == admissions
    assert re.fullmatch(r"\d{7}", patient.mrn)
    assert patient.created_by == admissions
    event = audit_rows(AuditAction.CREATE, object_type="patients.patient").get()
    assert (event.actor, event.clinic, event.patient_id) == (admissions, clinic, patient.pk)
    assert event.object_id == str(patient.pk)


def test_the_admins_log_and_messages_keep_no_patient_name(admissions_client, admissions, clinic):
    """The admin's log (the home page's "Recent actions") outlives the user's access to the
    record, and messages rode in a cookie: neither holds the patient's name or MRN."""
    response = post_patient_add(admissions_client, patient_form(clinic))

    patient = Patient.objects.get()
    assert [entry.object_repr for entry in LogEntry.objects.all()] == [f"Patient #{patient.pk}"]
    assert "messages" not in response.cookies
    cookies = " ".join(cookie.value for cookie in response.cookies.values())
    assert not {"Dana", "Okafor", patient.mrn} & set(re.findall(r"\w+", cookies))
    # The message is shown once, from the session; the home page then names no one.
    landing = admissions_client.get(response["Location"])
    assert "was added successfully" in html(landing)
    home = html(admissions_client.get("/admin/"))
    assert f"Patient #{patient.pk}" in home
    assert "Okafor" not in home
    assert patient.mrn not in home


def test_the_log_entries_written_before_forget_their_names(admissions, clinic):
    patient = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Maria",
        last_name="Alvarez",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    entry = LogEntry.objects.create(
        user=admissions,
        content_type=ContentType.objects.get_for_model(Patient),
        object_id=str(patient.pk),
        object_repr=str(patient),
        action_flag=ADDITION,
    )
    migration = importlib.import_module("patients.migrations.0005_admin_log_without_names")

    migration.forget_names(django_apps, None)

    entry.refresh_from_db()
    assert entry.object_repr == f"Patient #{patient.pk}"


def test_add_form_refuses_a_future_date_of_birth_with_the_services_message(
    admissions_client, clinic
):
    tomorrow_and_more = timezone.localdate() + datetime.timedelta(days=30)

    response = post_patient_add(
        admissions_client, patient_form(clinic, date_of_birth=tomorrow_and_more.isoformat())
    )

    assert response.status_code == 200
    assert "The date of birth cannot be in the future." in html(response)
    assert not Patient.objects.exists()
    assert not audit_rows(AuditAction.CREATE).exists()


def test_add_form_refuses_sms_reminders_without_a_phone(admissions_client, clinic):
    response = post_patient_add(
        admissions_client, patient_form(clinic, phone="", reminder_channels=["sms"])
    )

    assert response.status_code == 200
    assert "SMS reminders need a phone number." in html(response)
    assert not Patient.objects.exists()


def test_add_form_refuses_a_duplicate_unless_allowed(admissions_client, admissions, clinic):
    existing = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Dana",
        last_name="Okafor",
        date_of_birth=datetime.date(1991, 5, 17),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    # Names differ in case and spacing only: still the same person.
    data = patient_form(clinic, first_name=" dana ", last_name="OKAFOR")

    refused = post_patient_add(admissions_client, data)

    assert refused.status_code == 200
    assert escape(
        "A patient with the same names and date of birth is already registered at this clinic."
    ) in html(refused)
    assert list(Patient.objects.all()) == [existing]

    allowed = post_patient_add(admissions_client, {**data, "allow_duplicate": "on"})

    assert allowed.status_code == 302
    twin = Patient.objects.exclude(pk=existing.pk).get()
    # The refused attempt handed its number back: no gap in the clinic's MRNs.
    assert int(twin.mrn) == int(existing.mrn) + 1


def test_the_patient_page_has_no_formsets_that_could_fail_after_the_service_wrote(
    admissions_client, clinic
):
    # The form's clean() registers the patient through the service; related records are shown
    # as read-only tables, so no inline formset can reject the POST after that write.
    assert not PatientAdmin.inlines

    response = admissions_client.post(f"{PATIENTS}add/", {**patient_form(clinic), "_save": "Save"})

    assert response.status_code == 302
    assert Patient.objects.count() == 1
    assert audit_rows(AuditAction.CREATE).count() == 1
