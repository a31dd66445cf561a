"""Recording a measure (``measure_record``): who may, validation naming the items, the stay it
joins, the idempotent retry and the safety net (one alert to the primary clinician and the
supervisors at once, neutral in its message and e-mail; the crisis text)."""

import datetime
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic.errors import ServiceError
from clinic.models import AlertDelivery, AlertKind, AuditAction, AuditEvent, StaffAlert
from clinic.selectors import alert_list_for
from clinic.services import alert_delivery
from programs.models import MeasureResponse, MeasureSource
from programs.services.measures import SAFETY_ALERT_MESSAGE, measure_record
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    EnrollmentFactory,
    PatientFactory,
    ProgramFactory,
    answers_for,
    app_account,
    staff_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]


@pytest.fixture
def stay(clinic, clinician):
    program = ProgramFactory(clinic=clinic, iop=True)
    return EnrollmentFactory(program=program, primary_clinician=clinician)


@pytest.fixture
def patient(stay):
    app_account(stay.patient)
    return stay.patient


def record(actor, patient, instrument="phq9", answers=None, **kwargs):
    answers = answers if answers is not None else answers_for(instrument, 3)
    return measure_record(
        actor=actor, patient=patient, instrument=instrument, answers=answers, **kwargs
    )


def test_the_patient_answers_in_the_app_scored_and_tied_to_the_stay(patient, stay):
    response, created = record(patient.app_user, patient, answers=answers_for("phq9", 12))

    assert created
    assert (response.total, response.band, response.severe) == (12, "moderate", False)
    assert response.source == MeasureSource.PATIENT
    assert response.enrollment == stay
    assert response.completed_at == TUESDAY_10AM
    assert response.alert is None
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=str(response.pk), patient_id=patient.pk
    ).exists()


def test_a_patient_between_stays_records_without_a_stay(clinic):
    patient = PatientFactory(clinic=clinic)
    app_account(patient)

    response, _ = record(patient.app_user, patient, instrument="gad7")

    assert response.enrollment is None


def test_a_clinician_rated_instrument_is_not_answered_in_the_app(patient):
    with pytest.raises(ServiceError) as refused:
        record(patient.app_user, patient, instrument="ciwa_ar")

    assert refused.value.code == "clinician_rated"
    assert not MeasureResponse.objects.exists()


def test_staff_record_any_instrument_earlier_but_not_in_the_future(patient, clinician):
    earlier = TUESDAY_10AM - datetime.timedelta(hours=2)

    response, _ = record(clinician, patient, instrument="cows", completed_at=earlier)

    assert (response.source, response.completed_at) == (MeasureSource.STAFF, earlier)
    with pytest.raises(ValidationError) as refused:
        record(clinician, patient, completed_at=TUESDAY_10AM + datetime.timedelta(minutes=5))
    assert "completed_at" in refused.value.message_dict


def test_a_bad_answer_is_named_by_its_item(patient):
    answers = answers_for("phq9", 3) | {"9": 7}
    del answers["2"]

    with pytest.raises(ValidationError) as refused:
        record(patient.app_user, patient, answers=answers | {"x": 1})

    assert set(refused.value.message_dict) == {"answers.2", "answers.9", "answers.x"}
    assert not MeasureResponse.objects.exists()


@pytest.mark.parametrize("role", ["admissions", "utilization_review"])
def test_only_clinical_staff_of_the_clinic_record(patient, clinic, other_clinic, role):
    with pytest.raises(PermissionDenied):
        record(staff_user(role=role, clinics=[clinic]), patient)
    with pytest.raises(PermissionDenied):
        record(staff_user(role="clinician", clinics=[other_clinic]), patient)
    other = PatientFactory(clinic=clinic)
    with pytest.raises(PermissionDenied):
        record(app_account(other), patient)
    assert not MeasureResponse.objects.exists()


def test_supervisors_record_too(patient, supervisor):
    response, created = record(supervisor, patient, instrument="ciwa_ar")

    assert created
    assert response.recorded_by == supervisor


def test_a_retried_submission_returns_the_first_response_and_alerts_once(patient):
    key = uuid.uuid4()
    answers = answers_for("phq9", 5, item_9=1)

    first, created = record(patient.app_user, patient, answers=answers, submission_key=key)
    again, created_again = record(patient.app_user, patient, answers=answers, submission_key=key)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert MeasureResponse.objects.count() == 1
    assert StaffAlert.objects.filter(kind=AlertKind.MEASURE_SAFETY).count() == 1


# The safety net -----------------------------------------------------------------------------------


def test_item_9_alerts_the_primary_clinician_and_the_supervisors_at_once(
    patient, clinic, clinician, supervisor
):
    other_clinician = staff_user(role="clinician", clinics=[clinic], email="o@example.org")
    clinician.email, supervisor.email = "c@example.org", "s@example.org"
    clinician.save(), supervisor.save()

    response, _ = record(patient.app_user, patient, answers=answers_for("phq9", 2, item_9=1))

    alert = StaffAlert.objects.get(kind=AlertKind.MEASURE_SAFETY)
    assert response.alert == alert
    assert MeasureResponse.objects.get(pk=response.pk).alert_id == alert.pk
    assert (alert.recipient, alert.recipient_role) == (clinician, "supervisor")
    assert alert.message == SAFETY_ALERT_MESSAGE
    delivered_to = set(AlertDelivery.objects.filter(alert=alert).values_list("recipient", flat=1))
    assert delivered_to == {clinician.pk, supervisor.pk}
    assert alert in alert_list_for(clinician)
    assert alert in alert_list_for(supervisor)
    assert alert not in alert_list_for(other_clinician)


def test_a_severe_band_alerts_too_and_without_a_clinician_the_supervisors(clinic, supervisor):
    stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, iop=True))
    patient = stay.patient
    app_account(patient)

    response, _ = record(
        patient.app_user, patient, instrument="gad7", answers=answers_for("gad7", 18)
    )

    assert response.severe
    assert not response.safety_flags
    alert = response.alert
    assert (alert.recipient, alert.recipient_role) == (None, "supervisor")
    assert alert in alert_list_for(supervisor)


def test_an_unflagged_response_alerts_no_one(patient):
    record(patient.app_user, patient, answers=answers_for("phq9", 9))

    assert not StaffAlert.objects.exists()


def test_the_alert_and_its_email_name_only_the_kind(patient, clinician):
    patient.first_name = "Zebulon"
    patient.save()
    response, _ = record(patient.app_user, patient, answers=answers_for("phq9", 21, item_9=3))

    subject, text = alert_delivery.render(response.alert)

    # The link's ids aside, nothing of the patient or the score.
    for said in (response.alert.message, subject, text.split("http")[0]):
        assert "Zebulon" not in said
        assert "21" not in said
        assert "PHQ" not in said
    assert "safety follow-up" in text
    assert f"/clinic/staffalert/{response.alert.pk}/" in text


def test_a_role_alert_without_a_recipient_still_reaches_only_the_role(
    clinic, clinician, supervisor
):
    patient = PatientFactory(clinic=clinic)
    alert = StaffAlert.objects.create(
        kind=AlertKind.RISKY_CHECK_IN,
        object_type="patients.patient",
        object_id=str(patient.pk),
        clinic=clinic,
        message="x",
        recipient_role="clinician",
        created_at=TUESDAY_10AM,
        last_occurred_at=TUESDAY_10AM,
    )
    named = StaffAlert.objects.create(
        kind=AlertKind.RISKY_CHECK_IN,
        object_type="patients.patient",
        object_id=f"{patient.pk}-named",
        clinic=clinic,
        message="x",
        recipient=clinician,
        created_at=TUESDAY_10AM,
        last_occurred_at=TUESDAY_10AM,
    )

    assert set(alert_list_for(clinician)) == {alert, named}
    assert set(alert_list_for(supervisor)) == set()
    clinician.email = "c@example.org"
    clinician.save()
    assert list(alert_delivery.recipients_of(named)) == [clinician]
    assert list(alert_delivery.recipients_of(alert)) == [clinician]
