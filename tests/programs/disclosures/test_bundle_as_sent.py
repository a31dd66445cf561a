"""The bundle a disclosure sent, over HTTP: the document stored when the disclosure was made
(valid R4B, only the consented categories), whatever changes in the record afterwards."""

import pytest

from patients import services as patient_services
from tests.factories import ConsentFactory, PatientFactory
from tests.programs.fhir.helpers import resources, validated

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(clinic, admissions, frozen_time):
    return PatientFactory(clinic=clinic, actor=admissions, first_name="Dana", last_name="Reyes")


def disclose(client, patient, categories):
    response = client.post(
        f"/api/v1/patients/{patient.pk}/disclosures/",
        {
            "recipient_name": "Harbor Outpatient Clinic",
            "recipient_address": "12 Elm St, Harbor City",
            "purpose": "treatment",
            "categories": categories,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def download(client, sent) -> dict:
    response = client.get(sent["bundle_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    return validated(response.json())


def test_the_download_is_the_document_sent_not_a_rebuild(
    client_for, clinician, admissions, patient
):
    ConsentFactory(patient=patient, tpo=True)
    client = client_for(clinician)
    sent = disclose(client, patient, ["demographics", "attendance"])
    first = download(client, sent)

    patient_services.patient_update(actor=admissions, patient=patient, last_name="Morales")

    again = download(client, sent)
    assert again == first
    (person,) = resources(again, "Patient")
    assert person["name"][0]["family"] == "Reyes"


def test_withheld_demographics_leave_the_patient_nameless(client_for, clinician, patient):
    ConsentFactory(patient=patient, tpo=True)
    client = client_for(clinician)

    bundle = download(client, disclose(client, patient, ["attendance"]))

    (person,) = resources(bundle, "Patient")
    assert "name" not in person
    assert "birthDate" not in person
    assert "Reyes" not in str(bundle)
