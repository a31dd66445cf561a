"""The patient change page, its inlines, edits through the service, and the audit rows of reads and
lists."""

import pytest

from clinic.models import AuditAction
from patients import services
from tests.factories import ConsentFactory
from tests.patients.admin.helpers import (
    PATIENTS,
    audit_rows,
    html,
    make_assessment,
    management_forms,
)

pytestmark = pytest.mark.django_db


# 4. The patient change page and the audit trail ---------------------------------------------------


def test_change_page_shows_contacts_consents_and_assessments_inline(
    admissions_client, admissions, clinician, alvarez
):
    services.contact_create(
        actor=admissions,
        patient=alvarez,
        kind="emergency",
        name="Rosa Delgado",
        relationship="Sister",
        phone="+12025550111",
    )
    ConsentFactory(patient=alvarez, actor=admissions)
    make_assessment(clinician, alvarez, notes="Seen at intake.")

    response = admissions_client.get(f"{PATIENTS}{alvarez.pk}/change/")

    assert response.status_code == 200
    page = html(response)
    for value in [
        "Rosa Delgado",
        "Sister",
        "Harbor County Drug Court",
        "Compliance reporting to the court",
        "End of probation",
        "Residential",
        clinician.username,
        alvarez.mrn,
    ]:
        assert value in page, value


def test_opening_a_patient_writes_a_read_audit_row(admissions_client, admissions, clinic, alvarez):
    admissions_client.get(f"{PATIENTS}{alvarez.pk}/change/")

    event = audit_rows(AuditAction.READ).get()
    assert event.actor == admissions
    assert event.clinic == clinic
    assert event.patient_id == alvarez.pk
    assert (event.object_type, event.object_id) == ("patients.patient", str(alvarez.pk))


def test_the_changelist_writes_a_list_audit_row_per_patient_shown(
    admissions_client, admissions, alvarez, brennan, stranger
):
    admissions_client.get(PATIENTS)

    events = audit_rows(AuditAction.LIST)
    assert {event.patient_id for event in events} == {alvarez.pk, brennan.pk}
    assert all(event.actor == admissions for event in events)
    assert events.count() == 2


def test_editing_a_patient_goes_through_the_service(admissions_client, admissions, alvarez):
    url = f"{PATIENTS}{alvarez.pk}/change/"
    data = {
        **management_forms(admissions_client, url),
        "first_name": "Maria",
        "last_name": "Alvarez",
        "date_of_birth": "1984-03-07",
        "email": "maria.alvarez@example.org",
        "phone": "",
        "reminder_channels": ["sms"],
        "_save": "Save",
    }

    refused = admissions_client.post(url, data)

    assert refused.status_code == 200
    assert "SMS reminders need a phone number." in html(refused)
    alvarez.refresh_from_db()
    assert str(alvarez.phone) == "+12025550143"

    saved = admissions_client.post(url, {**data, "reminder_channels": ["email"]})

    assert saved.status_code == 302
    alvarez.refresh_from_db()
    assert alvarez.reminder_channels == ["email"]
    assert str(alvarez.phone) == ""
    assert audit_rows(AuditAction.UPDATE, patient_id=alvarez.pk).count() == 1
