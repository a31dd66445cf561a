"""Staff alerts over the API: each caller's own, acknowledged once, never someone else's."""

import pytest

from clinic.errors import Conflict
from clinic.models import AuditAction, AuditEvent, StaffAlert
from clinic.services import alert_acknowledge
from tests.factories import staff_user
from tests.programs.aftercare.helpers import check_in, make_plan

pytestmark = pytest.mark.django_db


# Alerts -------------------------------------------------------------------------------------------


def test_the_alert_list_shows_only_the_callers_alerts(
    client_for, plan, clinic, admissions, clinician, other_clinic
):
    colleague = staff_user(role="clinician", clinics=[clinic])
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    named = check_in(plan, admissions, used_substance=True)
    unassigned_plan = make_plan(clinic, admissions, clinician, primary_clinician=False)
    for_the_role = check_in(unassigned_plan, admissions, craving=9)
    elsewhere_plan = make_plan(
        other_clinic, staff_user(role="admissions", clinics=[other_clinic]), outsider
    )
    check_in(elsewhere_plan, outsider, craving=10)

    def alert_subjects(user, query=""):
        response = client_for(user).get(f"/api/v1/alerts/{query}")
        assert response.status_code == 200
        return {row["object_id"] for row in response.json()["results"]}

    assert alert_subjects(clinician) == {str(named.pk), str(for_the_role.pk)}
    assert alert_subjects(colleague) == {str(for_the_role.pk)}
    assert alert_subjects(admissions) == set()
    assert alert_subjects(outsider) == {StaffAlert.objects.get(clinic=other_clinic).object_id}
    assert alert_subjects(clinician, "?kind=waitlist_offer") == set()
    assert AuditEvent.objects.filter(
        actor=clinician, action=AuditAction.LIST, object_type="clinic.staffalert"
    ).exists()


def test_an_alert_is_acknowledged_once(client_for, plan, clinician, clinic):
    check_in(plan, clinician, used_substance=True)
    alert = StaffAlert.objects.get()
    client = client_for(clinician)
    url = f"/api/v1/alerts/{alert.pk}/acknowledge/"

    first = client.post(url)
    second = client.post(url)

    assert first.status_code == 200
    assert first.json()["acknowledged"] is True
    assert first.json()["acknowledged_by"] == clinician.pk
    assert (second.status_code, second.json()["code"]) == (409, "already_acknowledged")
    alert.refresh_from_db()
    acknowledged_at = alert.acknowledged_at
    assert acknowledged_at is not None
    assert alert.acknowledged_by == clinician
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE,
        object_type="clinic.staffalert",
        object_id=str(alert.pk),
        patient_id=plan.patient_id,
        clinic=clinic,
    ).exists()
    with pytest.raises(Conflict):
        alert_acknowledge(actor=clinician, alert=alert)
    alert.refresh_from_db()
    assert alert.acknowledged_at == acknowledged_at
    assert [
        row["id"] for row in client.get("/api/v1/alerts/?acknowledged=true").json()["results"]
    ] == [alert.pk]
    assert client.get("/api/v1/alerts/?acknowledged=false").json()["results"] == []


def test_someone_elses_alert_cannot_be_acknowledged(client_for, plan, clinician, clinic):
    check_in(plan, clinician, used_substance=True)
    alert = StaffAlert.objects.get()
    colleague = staff_user(role="clinician", clinics=[clinic])

    response = client_for(colleague).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
