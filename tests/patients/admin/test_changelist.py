"""The patient changelist: the user's clinics only, search, the clinic and level filters."""

import datetime

import pytest
from django.utils import timezone

from patients import services
from tests.factories import ClinicFactory, PatientFactory, staff_user
from tests.patients.admin.helpers import OUTPATIENT, PATIENTS, html, listed, log_in, make_assessment

pytestmark = pytest.mark.django_db


# 1. The patient changelist ------------------------------------------------------------------------


def test_changelist_lists_own_clinic_patients_and_hides_other_clinics(
    admissions_client, alvarez, brennan, stranger
):
    response = admissions_client.get(PATIENTS)

    assert response.status_code == 200
    assert listed(response) == {alvarez.pk, brennan.pk}
    assert "Alvarez" in html(response)
    assert "Brennan" in html(response)
    assert "Quimbyfaraway" not in html(response)
    assert "Zebulon" not in html(response)


def test_search_by_last_name_finds_the_patient(admissions_client, alvarez, brennan, stranger):
    response = admissions_client.get(PATIENTS, {"q": "Brennan"})

    assert listed(response) == {brennan.pk}
    assert "Brennan" in html(response)


def test_search_by_mrn_is_exact_and_stays_in_the_clinic(
    admissions_client, alvarez, brennan, stranger
):
    # Each clinic numbers its own patients, so the stranger shares Alvarez's MRN.
    assert stranger.mrn == alvarez.mrn

    assert listed(admissions_client.get(PATIENTS, {"q": brennan.mrn})) == {brennan.pk}
    assert listed(admissions_client.get(PATIENTS, {"q": alvarez.mrn})) == {alvarez.pk}
    assert listed(admissions_client.get(PATIENTS, {"q": brennan.mrn[:-1]})) == set()


def test_search_by_date_of_birth_finds_the_patient(admissions_client, alvarez, brennan, stranger):
    response = admissions_client.get(PATIENTS, {"q": "1984-03-07"})

    assert response.status_code == 200
    assert listed(response) == {alvarez.pk}
    assert "Quimbyfaraway" not in html(response)


def test_clinic_filter_offers_only_the_users_clinics(client, clinic, other_clinic):
    annex = ClinicFactory(name="Harborview Annex")
    user = staff_user(role="admissions", clinics=[clinic, annex])
    log_in(client, user)

    response = client.get(PATIENTS)

    clinic_filter = next(
        spec for spec in response.context["cl"].filter_specs if spec.parameter_name == "clinic"
    )
    assert {pk for pk, _ in clinic_filter.lookup_choices} == {clinic.pk, annex.pk}
    assert "Harborview Annex" in html(response)
    assert f">{other_clinic.name}<" not in html(response)


def test_clinic_filter_narrows_the_list_to_that_clinic(client, clinic, admissions, alvarez):
    annex = ClinicFactory(name="Harborview Annex")
    user = staff_user(role="admissions", clinics=[clinic, annex])
    at_annex = PatientFactory(
        clinic=annex,
        actor=user,
        first_name="Ines",
        last_name="Kowalczyk",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    log_in(client, user)

    assert listed(client.get(PATIENTS)) == {alvarez.pk, at_annex.pk}
    assert listed(client.get(PATIENTS, {"clinic": annex.pk})) == {at_annex.pk}


def test_level_filter_selects_by_the_latest_assessment(
    admissions_client, clinician, alvarez, brennan, admissions, clinic
):
    never_assessed = PatientFactory(
        clinic=clinic,
        actor=admissions,
        first_name="Ada",
        last_name="Nakamura",
        date_of_birth=datetime.date(1984, 3, 7),
        email="maria.alvarez@example.org",
        phone="+12025550143",
        reminder_channels=["sms"],
    )
    # Brennan was residential once, but the latest assessment recommends outpatient care.
    make_assessment(
        clinician,
        brennan,
        assessed_at=timezone.now() - datetime.timedelta(days=30),
    )
    make_assessment(clinician, brennan, dimensions=OUTPATIENT, severity="mild")
    make_assessment(clinician, alvarez)

    assert listed(admissions_client.get(PATIENTS, {"level": "residential"})) == {alvarez.pk}
    assert listed(admissions_client.get(PATIENTS, {"level": "outpatient"})) == {brennan.pk}
    assert listed(admissions_client.get(PATIENTS, {"level": "none"})) == {never_assessed.pk}


def test_level_filter_follows_the_decided_level_that_the_list_shows(
    admissions_client, clinician, alvarez
):
    # Recommended residential, decided partial hospitalization: the list shows "php".
    assessment = make_assessment(clinician, alvarez)
    services.assessment_decide(
        actor=clinician,
        assessment=assessment,
        decided_level="php",
        override_reason="Strong family support at home.",
    )
    listing = admissions_client.get(PATIENTS)
    row = next(p for p in listing.context["cl"].result_list if p.pk == alvarez.pk)
    assert listing.context["cl"].model_admin.latest_level(row) == "php"

    assert listed(admissions_client.get(PATIENTS, {"level": "php"})) == {alvarez.pk}
    assert listed(admissions_client.get(PATIENTS, {"level": "residential"})) == set()
