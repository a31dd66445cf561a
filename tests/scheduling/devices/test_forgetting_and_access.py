"""A patient forgets their own device; staff and other accounts may not use me/devices/."""

import pytest
from rest_framework.test import APIClient

from clinic.models import AuditAction
from scheduling.models import Device
from tests.scheduling.devices.helpers import BASE, device_audits, frozen, register

pytestmark = pytest.mark.django_db


# Forgetting ---------------------------------------------------------------------------------------


@frozen
def test_the_patient_forgets_their_own_device_with_204(ana_client, ana):
    device_id = register(ana_client).json()["id"]

    response = ana_client.delete(f"{BASE}{device_id}/")

    assert response.status_code == 204
    assert not Device.objects.exists()
    assert device_audits(
        action=AuditAction.DELETE,
        object_id=str(device_id),
        actor=ana.app_user,
        patient_id=ana.pk,
        clinic_id=ana.clinic_id,
    ).exists()
    assert ana_client.delete(f"{BASE}{device_id}/").status_code == 404


@frozen
def test_another_patients_device_is_404_and_stays(ana_client, ben_client, ben):
    bens = register(ben_client, "fcm-token-ben").json()["id"]

    response = ana_client.delete(f"{BASE}{bens}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Device.objects.get(pk=bens).patient == ben
    assert not device_audits(action=AuditAction.DELETE).exists()


# Who may ------------------------------------------------------------------------------------------


@frozen
def test_staff_get_403(client_for, admissions, clinician, supervisor, ana, ana_client):
    device_id = register(ana_client).json()["id"]

    for user in (admissions, clinician, supervisor):
        client = client_for(user)
        response = register(client, "staff-phone")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert client.delete(f"{BASE}{device_id}/").status_code == 403

    assert list(Device.objects.values_list("token", flat=True)) == ["fcm-token-ana-1"]


@frozen
def test_a_staff_member_linked_to_a_patient_is_refused(client_for, clinician, ana):
    ana.app_user = clinician
    ana.save(update_fields=["app_user"])

    assert register(client_for(clinician)).status_code == 403
    assert not Device.objects.exists()


def test_an_account_without_a_patient_gets_403_and_no_token_401(client_for, user_without_role):
    assert register(client_for(user_without_role)).status_code == 403
    assert register(APIClient()).status_code == 401
    assert APIClient().delete(f"{BASE}1/").status_code == 401
    assert not Device.objects.exists()
