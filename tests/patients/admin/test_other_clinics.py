"""Other clinics' patients are out of reach: change page, autocomplete, add form, assessments."""

import datetime

import pytest

from clinic.models import AuditAction
from patients.models import Assessment, Patient
from tests.factories import PatientFactory
from tests.patients.admin.helpers import (
    ASSESSMENTS,
    AUTOCOMPLETE,
    PATIENTS,
    RESIDENTIAL,
    audit_rows,
    html,
    patient_form,
    post_patient_add,
)

pytestmark = pytest.mark.django_db


# 2. Other clinics' patients are out of reach ------------------------------------------------------


def test_another_clinics_patient_change_page_redirects_without_showing_the_patient(
    admissions_client, stranger
):
    response = admissions_client.get(f"{PATIENTS}{stranger.pk}/change/")

    assert response.status_code == 302
    assert "Quimbyfaraway" not in html(response)
    followed = admissions_client.get(response["Location"])
    assert "Quimbyfaraway" not in html(followed)
    assert not audit_rows(AuditAction.READ, patient_id=stranger.pk).exists()


def test_autocomplete_returns_only_the_users_clinic_patients(
    admissions_client, admissions, clinic, stranger
):
    own = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Anna",
        last_name="Quimbyfaraway",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )

    response = admissions_client.get(
        AUTOCOMPLETE,
        {
            "app_label": "patients",
            "model_name": "assessment",
            "field_name": "patient",
            "term": "Quimbyfaraway",
        },
    )

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(own.pk)]
    assert "Zebulon" not in html(response)


def test_autocomplete_by_date_of_birth_stays_in_the_clinic(admissions_client, alvarez, stranger):
    response = admissions_client.get(
        AUTOCOMPLETE,
        {
            "app_label": "patients",
            "model_name": "consent",
            "field_name": "patient",
            "term": "1984-03-07",
        },
    )

    assert [row["id"] for row in response.json()["results"]] == [str(alvarez.pk)]


def test_adding_a_patient_to_another_clinic_is_refused(admissions_client, other_clinic):
    response = post_patient_add(admissions_client, patient_form(other_clinic))

    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert not Patient.objects.exists()


def test_an_assessment_for_another_clinics_patient_is_refused(clinician_client, stranger):
    response = clinician_client.post(
        f"{ASSESSMENTS}add/",
        {"patient": stranger.pk, "severity": "severe", **RESIDENTIAL, "_save": "Save"},
    )

    assert response.status_code == 200
    assert "Select a valid choice" in html(response)
    assert not Assessment.objects.exists()
