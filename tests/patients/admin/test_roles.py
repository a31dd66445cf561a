"""Who may view, add and change patients in the admin."""

import pytest

from clinic.models import AuditAction
from patients.models import Patient
from tests.patients.admin.helpers import PATIENTS, audit_rows, html, listed, log_in, patient_form

pytestmark = pytest.mark.django_db


# 6. Role permissions ------------------------------------------------------------------------------


def test_a_supervisor_can_view_patients_but_not_add_them(client, supervisor, clinic, alvarez):
    log_in(client, supervisor)

    listing = client.get(PATIENTS)
    assert listing.status_code == 200
    assert listed(listing) == {alvarez.pk}

    assert client.get(f"{PATIENTS}add/").status_code == 403
    assert client.post(f"{PATIENTS}add/", patient_form(clinic)).status_code == 403
    assert list(Patient.objects.all()) == [alvarez]


def test_a_supervisor_cannot_change_a_patient(client, supervisor, alvarez):
    log_in(client, supervisor)

    response = client.post(
        f"{PATIENTS}{alvarez.pk}/change/",
        {"first_name": "Changed", "last_name": "Alvarez", "date_of_birth": "1984-03-07"},
    )

    assert response.status_code == 403
    alvarez.refresh_from_db()
    assert alvarez.first_name == "Maria"


def test_a_staff_user_without_a_role_gets_403_on_patients(client, user_without_role, alvarez):
    log_in(client, user_without_role)

    response = client.get(PATIENTS)

    assert response.status_code == 403
    assert "Alvarez" not in html(response)
    assert client.get(f"{PATIENTS}{alvarez.pk}/change/").status_code == 403
    assert not audit_rows(AuditAction.LIST).exists()
