"""Check-ins: recorded by staff or the patient, ratings in range, and the risky ones raising one
alert per patient."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic.models import AlertKind, AuditAction, AuditEvent, Role, StaffAlert
from clinic.services import alert_acknowledge, alert_raise
from patients.models import Patient
from programs.models import CheckIn
from programs.services import aftercare as services
from tests.factories import UserFactory, staff_user
from tests.programs.aftercare.helpers import BASE, check_in, make_plan

pytestmark = pytest.mark.django_db


# Check-ins ----------------------------------------------------------------------------------------


def test_staff_record_a_check_in_on_the_patients_behalf(client_for, plan, admissions, clinic):
    response = client_for(admissions).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 3, "mood": 4, "used_substance": False, "note": "Good week"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["craving"], body["mood"], body["used_substance"], body["risky"]) == (
        3,
        4,
        False,
        False,
    )
    checkin = CheckIn.objects.get()
    assert (checkin.patient_id, checkin.recorded_by) == (plan.patient_id, admissions)
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE,
        object_type="programs.checkin",
        patient_id=plan.patient_id,
        clinic=clinic,
    ).exists()


def test_check_in_ratings_out_of_range_are_a_400_with_fields(client_for, plan, clinician):
    response = client_for(clinician).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 11, "mood": 0, "used_substance": False},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"craving", "mood"}
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(("craving", "mood"), [(-1, 3), (11, 3), (5, 0), (5, 6)])
def test_the_service_refuses_ratings_out_of_range(plan, clinician, craving, mood):
    with pytest.raises(ValidationError) as error:
        check_in(plan, clinician, craving=craving, mood=mood)

    field = "craving" if craving not in range(11) else "mood"
    assert set(error.value.message_dict) == {field}
    assert not CheckIn.objects.exists()


def test_a_check_in_reporting_use_alerts_the_primary_clinician_once(
    client_for, plan, clinician, admissions, clinic
):
    response = client_for(admissions).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 2, "mood": 2, "used_substance": True},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["risky"] is True
    alert = StaffAlert.objects.get()
    assert alert.kind == AlertKind.RISKY_CHECK_IN
    assert alert.recipient == clinician
    assert alert.recipient_role == ""
    assert (alert.clinic_id, alert.patient_id) == (clinic.pk, plan.patient_id)
    assert (alert.object_type, alert.object_id) == ("programs.checkin", str(response.json()["id"]))
    assert alert.message == "A check-in needs attention (use reported)."


@pytest.mark.parametrize(("craving", "alerts"), [(7, 0), (8, 1), (10, 1)])
def test_a_craving_of_8_or_more_is_risky(plan, clinician, craving, alerts):
    checkin = check_in(plan, clinician, craving=craving)

    assert checkin.is_risky is bool(alerts)
    assert StaffAlert.objects.filter(kind=AlertKind.RISKY_CHECK_IN).count() == alerts


def test_a_calm_check_in_raises_no_alert(plan, clinician):
    check_in(plan, clinician, craving=0, mood=5, used_substance=False)

    assert not StaffAlert.objects.exists()


def test_risky_check_ins_while_the_alert_is_open_attach_to_it(plan, clinician):
    # given: a risky check-in raised an alert
    first = check_in(plan, clinician, used_substance=True)
    alert = StaffAlert.objects.get()
    assert (alert.occurrences, alert.last_occurred_at) == (1, first.recorded_at)
    assert alert.deliveries.count() == 1

    # when: two more before anyone acknowledges it
    calm = check_in(plan, clinician, craving=2)  # counts for nothing
    second = check_in(plan, clinician, craving=8)
    third = check_in(plan, clinician, craving=9)

    # then: the one alert counts them, with the latest's reasons; no one is e-mailed again
    alert = StaffAlert.objects.get()
    assert (alert.object_type, alert.object_id) == ("programs.checkin", str(first.pk))
    assert alert.occurrences == 3
    assert alert.last_occurred_at == third.recorded_at
    assert alert.message == "3 check-ins need attention (latest: craving 9 of 10)."
    assert alert.deliveries.count() == 1
    assert set(CheckIn.objects.filter(alert=alert).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
        third.pk,
    }
    assert CheckIn.objects.get(pk=calm.pk).alert is None


def test_re_raising_a_check_in_neither_alerts_nor_counts_twice(plan, clinician):
    first = check_in(plan, clinician, used_substance=True)
    second = check_in(plan, clinician, craving=9)

    # A retried task or a double submit for the same check-ins changes nothing.
    again = services.checkin_alert_raise(checkin=first)
    services.checkin_alert_raise(checkin=CheckIn.objects.get(pk=first.pk))
    services.checkin_alert_raise(checkin=CheckIn.objects.get(pk=second.pk))

    alert = StaffAlert.objects.get()
    assert again == alert
    assert alert.occurrences == 2
    assert alert.object_id == str(first.pk)
    # The first subject is idempotent in the clinic layer too.
    assert (
        alert_raise(
            clinic_id=plan.enrollment.program.clinic_id,
            kind=AlertKind.RISKY_CHECK_IN,
            subject=first,
            recipient=clinician,
            patient_id=plan.patient_id,
            message="again",
        )
        == alert
    )
    alert.refresh_from_db()
    assert alert.occurrences == 2
    assert alert.message == "2 check-ins need attention (latest: craving 9 of 10)."


def test_once_acknowledged_the_next_risky_check_in_raises_a_new_alert(plan, clinician):
    check_in(plan, clinician, used_substance=True)
    check_in(plan, clinician, craving=9)
    first_alert = StaffAlert.objects.get()
    alert_acknowledge(actor=clinician, alert=first_alert)

    later = check_in(plan, clinician, craving=10)

    new_alert = StaffAlert.objects.exclude(pk=first_alert.pk).get()
    assert new_alert.object_id == str(later.pk)
    assert (new_alert.occurrences, new_alert.acknowledged_at) == (1, None)
    assert new_alert.message == "A check-in needs attention (craving 10 of 10)."
    assert new_alert.deliveries.count() == 1
    first_alert.refresh_from_db()
    assert first_alert.occurrences == 2


def test_each_patient_has_an_alert_of_their_own(clinic, admissions, plan, clinician):
    other_plan = make_plan(clinic, admissions, clinician)

    check_in(plan, clinician, used_substance=True)
    check_in(other_plan, clinician, used_substance=True)

    assert sorted(StaffAlert.objects.values_list("patient_id", "occurrences")) == sorted(
        [(plan.patient_id, 1), (other_plan.patient_id, 1)]
    )


def test_the_database_holds_one_open_risky_alert_per_patient(plan, clinician):
    from django.db import IntegrityError, transaction

    first = check_in(plan, clinician, used_substance=True)
    second = check_in(plan, clinician, craving=2)
    fields = {
        "clinic_id": plan.enrollment.program.clinic_id,
        "recipient": clinician,
        "patient_id": plan.patient_id,
        "object_type": "programs.checkin",
        "message": "m",
    }

    with pytest.raises(IntegrityError, match="alert_one_open_per_patient"), transaction.atomic():
        StaffAlert.objects.create(kind=AlertKind.RISKY_CHECK_IN, object_id=str(second.pk), **fields)
    # Other kinds are one per subject, open or not: offers and moves do not coalesce.
    for n in (1, 2):
        StaffAlert.objects.create(kind=AlertKind.WAITLIST_OFFER, object_id=f"o{n}", **fields)
        StaffAlert.objects.create(kind=AlertKind.CONTINUITY_GAP, object_id=f"t{n}", **fields)
    # Once the open one is acknowledged, another may open.
    alert_acknowledge(actor=clinician, alert=StaffAlert.objects.get(object_id=str(first.pk)))
    StaffAlert.objects.create(kind=AlertKind.RISKY_CHECK_IN, object_id=str(second.pk), **fields)

    assert StaffAlert.objects.filter(kind=AlertKind.RISKY_CHECK_IN).count() == 2


def test_the_alert_names_neither_the_note_nor_the_patient(plan, clinician):
    note = "Saw my old dealer Marco near the station"

    check_in(plan, clinician, craving=9, used_substance=True, note=note)

    message = StaffAlert.objects.get().message
    assert message == "A check-in needs attention (use reported, craving 9 of 10)."
    for secret in (note, "Marco", "Ana", "Diaz", plan.patient.mrn):
        assert secret not in message


def test_without_a_primary_clinician_the_alert_goes_to_the_clinicians(
    clinic, admissions, clinician
):
    plan = make_plan(clinic, admissions, clinician, primary_clinician=False)

    check_in(plan, clinician, craving=8)

    alert = StaffAlert.objects.get()
    assert (alert.recipient, alert.recipient_role) == (None, Role.CLINICIAN)


def test_a_closed_plan_refuses_check_ins(client_for, plan, clinician):
    services.aftercare_plan_update(actor=clinician, plan=plan, status="closed")

    response = client_for(clinician).post(
        f"{BASE}{plan.pk}/check-ins/",
        {"craving": 9, "mood": 1, "used_substance": True},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "plan_closed"
    assert not CheckIn.objects.exists()
    assert not StaffAlert.objects.exists()


def test_the_patient_records_their_own_check_in_but_not_anothers(
    plan, clinic, admissions, clinician
):
    own_account, other_account = UserFactory(), UserFactory()
    Patient.objects.filter(pk=plan.patient_id).update(app_user=own_account)
    other_plan = make_plan(clinic, admissions, clinician)
    Patient.objects.filter(pk=other_plan.patient_id).update(app_user=other_account)

    checkin = check_in(plan, own_account, craving=1)
    with pytest.raises(PermissionDenied):
        check_in(plan, other_account)

    assert checkin.recorded_by == own_account
    assert list(CheckIn.objects.values_list("pk", flat=True)) == [checkin.pk]


def test_staff_of_another_clinic_cannot_record_a_check_in(plan, other_clinic):
    outsider = staff_user(role="clinician", clinics=[other_clinic])

    with pytest.raises(PermissionDenied):
        check_in(plan, outsider)


def test_check_ins_are_listed_newest_first(client_for, plan, clinician, supervisor):
    first = check_in(plan, clinician, craving=1)
    second = check_in(plan, clinician, craving=2)

    response = client_for(supervisor).get(f"{BASE}{plan.pk}/check-ins/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [second.pk, first.pk]
