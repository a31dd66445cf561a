"""Measurement-based care in the admin: "Record a measure" from a stay (the instrument's items
as fields, linked from the patient's page), the responses read-only and audited, a program's
schedules set by supervisors through the service."""

import pytest

from clinic.models import AlertKind, AuditAction, StaffAlert
from programs.models import MeasureResponse, MeasureSchedule, MeasureSource
from tests.factories import answers_for
from tests.programs.admin.helpers import PROGRAMS, audit_rows, html, log_in, message_texts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

RESPONSES = "/admin/programs/measureresponse/"
SCHEDULES = "/admin/programs/measureschedule/"


def record_url(stay, instrument=None) -> str:
    url = f"/admin/programs/enrollment/{stay.pk}/measure/"
    return f"{url}?instrument={instrument}" if instrument else url


def items(instrument, total, **fixed):
    return {f"item_{key}": value for key, value in answers_for(instrument, total, **fixed).items()}


def test_the_page_shows_the_instruments_items_and_records_through_the_service(
    clinician_client, stay, clinician
):
    page = clinician_client.get(record_url(stay, "cows"))

    assert page.status_code == 200
    assert "Clinical Opiate Withdrawal Scale" in html(page) or "COWS" in html(page)
    assert 'name="item_1"' in html(page)
    assert audit_rows(AuditAction.READ, object_id=str(stay.pk), actor=clinician).exists()

    response = clinician_client.post(
        record_url(stay), {"instrument": "cows", **items("cows", 14)}, follow=True
    )

    measure = MeasureResponse.objects.get()
    assert (measure.instrument, measure.total, measure.source) == ("cows", 14, MeasureSource.STAFF)
    assert measure.enrollment == stay
    assert ("success", "Recorded the COWS: total 14 (moderate).") in message_texts(response)


def test_a_missing_item_is_shown_and_nothing_recorded(clinician_client, stay):
    data = {"instrument": "ciwa_ar", **items("ciwa_ar", 5)}
    del data["item_3"]

    response = clinician_client.post(record_url(stay), data)

    assert response.status_code == 200
    assert "This field is required" in html(response)
    assert not MeasureResponse.objects.exists()


def test_a_flagged_phq9_recorded_in_the_admin_alerts(clinician_client, stay):
    clinician_client.post(
        record_url(stay), {"instrument": "phq9", **items("phq9", 4, item_9=2)}, follow=True
    )

    assert StaffAlert.objects.filter(kind=AlertKind.MEASURE_SAFETY).count() == 1


def test_admissions_cannot_record_and_the_patient_page_links_for_clinicians(
    admissions_client, client, stay, clinician
):
    assert admissions_client.get(record_url(stay)).status_code == 403
    page = html(admissions_client.get(f"/admin/patients/patient/{stay.patient_id}/change/"))
    assert "step-measure" not in page

    client.logout()
    clinician_page = log_in(client, clinician).get(
        f"/admin/patients/patient/{stay.patient_id}/change/"
    )
    assert "step-measure" in html(clinician_page)


def test_a_response_is_read_only_and_its_page_audited(clinician_client, stay, clinician):
    clinician_client.post(record_url(stay), {"instrument": "cows", **items("cows", 3)})
    measure = MeasureResponse.objects.get()

    page = clinician_client.get(f"{RESPONSES}{measure.pk}/change/")

    assert page.status_code == 200
    assert 'name="_save"' not in html(page)
    assert audit_rows(AuditAction.READ, object_id=str(measure.pk), actor=clinician).exists()
    assert clinician_client.get(f"{RESPONSES}add/").status_code == 403


def test_a_supervisor_schedules_from_the_programs_page(client, supervisor, residential):
    log_in(client, supervisor)

    page = html(client.get(f"{PROGRAMS}{residential.pk}/change/"))
    assert "add-measure-schedule" in page
    assert "every 14 days" in page

    response = client.post(
        f"{SCHEDULES}add/",
        {"program": residential.pk, "instrument": "audit_c", "every_days": "30"},
    )
    assert response.status_code == 302, html(response)
    schedule = MeasureSchedule.objects.get(program=residential, instrument="audit_c")
    assert audit_rows(AuditAction.CREATE, object_id=str(schedule.pk), actor=supervisor).exists()

    refused = client.post(f"{SCHEDULES}{schedule.pk}/change/", {"every_days": ""})
    assert refused.status_code == 200
    assert MeasureSchedule.objects.get(pk=schedule.pk).every_days == 30

    client.post(f"{SCHEDULES}{schedule.pk}/delete/", {"post": "yes"})
    assert not MeasureSchedule.objects.filter(pk=schedule.pk).exists()


def test_a_clinician_reads_schedules_but_does_not_set_them(clinician_client, residential):
    page = html(clinician_client.get(f"{PROGRAMS}{residential.pk}/change/"))

    assert "every 14 days" in page
    assert "add-measure-schedule" not in page
    assert clinician_client.get(f"{SCHEDULES}add/").status_code == 403


def test_the_clinics_crisis_text_and_the_patients_screening_sex_are_edited_in_the_admin(rf):
    from django.contrib import admin as django_admin

    from clinic.models import Clinic
    from patients.admin import PatientForm
    from tests.factories import UserFactory

    request = rf.get("/")
    request.user = UserFactory(is_superuser=True, is_staff=True)
    clinic_form = django_admin.site._registry[Clinic].get_form(request)

    assert "crisis_text" in clinic_form.base_fields
    assert "screening_sex" in PatientForm.base_fields
