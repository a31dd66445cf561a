"""The measures' API: the patient's ``me/measures/`` (history without answers, what is due with
its questions, a new response with the crisis text when flagged) and the staff's responses,
orders and schedules."""

import uuid

import pytest

from clinic.models import AuditAction, AuditEvent
from programs.models import MeasureOrder, MeasureResponse, MeasureSchedule
from tests.factories import (
    EnrollmentFactory,
    MeasureResponseFactory,
    PatientFactory,
    ProgramFactory,
    answers_for,
    app_account,
    client_of,
    staff_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

ME = "/api/v1/me/measures/"
MEASURES = "/api/v1/measures/"
ORDERS = "/api/v1/measure-orders/"
SCHEDULES = "/api/v1/measure-schedules/"


@pytest.fixture
def stay(clinic, clinician):
    return EnrollmentFactory(
        program=ProgramFactory(clinic=clinic, iop=True), primary_clinician=clinician
    )


@pytest.fixture
def me(stay):
    return client_of(app_account(stay.patient))


# The patient's app --------------------------------------------------------------------------------


def test_the_app_lists_scores_without_answers_and_what_is_due_with_its_questions(me, stay):
    MeasureResponseFactory(enrollment=stay, instrument="gad7", total=11)

    response = me.get(ME)

    assert response.status_code == 200, response.content
    body = response.json()
    (row,) = body["results"]
    assert set(row) == {
        "id",
        "instrument",
        "name",
        "completed_at",
        "total",
        "band",
        "band_label",
        "subscales",
    }
    assert (row["instrument"], row["total"], row["band_label"]) == (
        "gad7",
        11,
        "Moderate anxiety",
    )
    due = {d["instrument"]: d for d in body["due"]}
    assert set(due) == {"phq9", "bam"}  # the GAD-7 is answered
    phq9 = due["phq9"]
    assert phq9["due_on"] == "2026-12-01"
    assert phq9["name"] == "Patient Health Questionnaire-9"
    assert phq9["period"]
    assert phq9["instructions"]
    assert len(phq9["items"]) == 9
    assert phq9["items"][8]["key"] == "9"
    assert phq9["items"][0]["options"][0] == {"value": 0, "label": "Not at all"}
    assert "no-store" in response["Cache-Control"]


def test_a_clinician_rated_order_is_not_due_in_the_app(me, stay, clinician):
    client_of(clinician).post(
        ORDERS, {"enrollment": stay.pk, "instrument": "cows", "every_hours": 4}, format="json"
    )

    assert "cows" not in {d["instrument"] for d in me.get(ME).json()["due"]}


def test_the_app_answers_and_a_retry_with_its_key_gets_the_same_answer(me, stay):
    body = {
        "instrument": "phq9",
        "answers": answers_for("phq9", 7),
        "submission_key": str(uuid.uuid4()),
    }

    first = me.post(ME, body, format="json")
    again = me.post(ME, body, format="json")

    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert first.json() == again.json()
    assert first.json() == {
        "id": MeasureResponse.objects.get().pk,
        "instrument": "phq9",
        "total": 7,
        "band": "mild",
        "band_label": "Mild depression",
        "subscales": {},
        "completed_at": "2026-12-01T15:00:00Z",
        "safety": False,
        "crisis_text": None,
    }


def test_a_flagged_answer_carries_the_clinics_crisis_text(me, clinic):
    clinic.crisis_text = "Call or text 988, any hour."
    clinic.save()

    response = me.post(
        ME, {"instrument": "phq9", "answers": answers_for("phq9", 3, item_9=1)}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["safety"] is True
    assert response.json()["crisis_text"] == "Call or text 988, any hour."


def test_a_bad_answer_is_a_400_naming_the_item(me):
    answers = answers_for("phq9", 3) | {"9": 4}

    response = me.post(ME, {"instrument": "phq9", "answers": answers}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"answers.9"}
    assert not MeasureResponse.objects.exists()


def test_the_app_cannot_answer_a_clinician_rated_instrument(me):
    response = me.post(
        ME, {"instrument": "ciwa_ar", "answers": answers_for("ciwa_ar", 3)}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "clinician_rated"


def test_the_app_names_no_patient(me, stay, clinic):
    other = PatientFactory(clinic=clinic)

    response = me.post(
        ME,
        {"instrument": "phq9", "answers": answers_for("phq9", 3), "patient": other.pk},
        format="json",
    )

    assert response.status_code == 201
    assert MeasureResponse.objects.get().patient == stay.patient


# Staff --------------------------------------------------------------------------------------------


def test_a_clinician_records_and_staff_read_with_the_answers(stay, clinician, admissions):
    response = client_of(clinician).post(
        MEASURES,
        {
            "patient": stay.patient_id,
            "instrument": "cows",
            "answers": answers_for("cows", 14),
            "completed_at": "2026-12-01T14:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["source"], created["total"], created["band"]) == ("staff", 14, "moderate")
    listed = client_of(admissions).get(MEASURES, {"patient": stay.patient_id, "instrument": "cows"})
    (row,) = listed.json()["results"]
    assert row["answers"] == answers_for("cows", 14)
    detail = client_of(admissions).get(f"{MEASURES}{created['id']}/")
    assert detail.status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, object_id=str(created["id"]), actor=admissions
    ).exists()


def test_admissions_cannot_record_and_another_clinics_patient_does_not_exist(
    stay, admissions, other_clinic
):
    body = {"patient": stay.patient_id, "instrument": "phq9", "answers": answers_for("phq9")}

    assert client_of(admissions).post(MEASURES, body, format="json").status_code == 403
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    refused = client_of(outsider).post(MEASURES, body, format="json")
    assert refused.status_code == 400
    assert "patient" in refused.json()["fields"]


def test_a_future_completion_is_a_400(stay, clinician):
    response = client_of(clinician).post(
        MEASURES,
        {
            "patient": stay.patient_id,
            "instrument": "phq9",
            "answers": answers_for("phq9"),
            "completed_at": "2026-12-02T15:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "completed_at" in response.json()["fields"]


def test_orders_start_list_and_stop(stay, clinician):
    client = client_of(clinician)
    body = {"enrollment": stay.pk, "instrument": "ciwa_ar", "every_hours": 4}

    started = client.post(ORDERS, body, format="json")
    twice = client.post(ORDERS, body, format="json")

    assert started.status_code == 201, started.content
    assert started.json()["running"] is True
    assert (twice.status_code, twice.json()["code"]) == (409, "order_running")
    listed = client.get(ORDERS, {"enrollment": stay.pk}).json()["results"]
    assert [o["id"] for o in listed] == [started.json()["id"]]
    stopped = client.post(f"{ORDERS}{started.json()['id']}/stop/")
    assert stopped.status_code == 200
    assert stopped.json()["running"] is False
    assert client.post(f"{ORDERS}{started.json()['id']}/stop/").json()["code"] == "invalid_state"
    assert MeasureOrder.objects.get().stopped_by == clinician


def test_supervisors_set_schedules_and_staff_read_them(clinic, supervisor, clinician):
    program = ProgramFactory(clinic=clinic, php=True)
    client = client_of(supervisor)

    created = client.post(
        SCHEDULES,
        {"program": program.pk, "instrument": "audit_c", "every_days": 30},
        format="json",
    )
    twice = client.post(
        SCHEDULES,
        {"program": program.pk, "instrument": "audit_c", "at_admission": True},
        format="json",
    )
    never = client.post(SCHEDULES, {"program": program.pk, "instrument": "bam"}, format="json")

    assert created.status_code == 201, created.content
    assert (twice.status_code, twice.json()["code"]) == (409, "schedule_exists")
    assert never.status_code == 400
    path = f"{SCHEDULES}{created.json()['id']}/"
    changed = client.patch(path, {"at_admission": True}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["at_admission"], changed.json()["every_days"]) == (True, 30)
    listed = client_of(clinician).get(SCHEDULES, {"program": program.pk}).json()["results"]
    assert {s["instrument"] for s in listed} == {"phq9", "gad7", "audit_c"}
    assert client_of(clinician).patch(path, {"every_days": 7}, format="json").status_code == 403
    assert client.delete(path).status_code == 204
    assert not MeasureSchedule.objects.filter(program=program, instrument="audit_c").exists()


def test_a_schedule_edit_from_a_stale_read_is_a_412_and_changes_nothing(clinic, supervisor):
    program = ProgramFactory(clinic=clinic, iop=True)
    client = client_of(supervisor)
    created = client.post(
        SCHEDULES, {"program": program.pk, "instrument": "audit_c", "every_days": 30}, format="json"
    )
    path = f"{SCHEDULES}{created.json()['id']}/"
    read = client.get(path)
    assert read["ETag"] == created["ETag"]

    first = client.patch(path, {"every_days": 14}, format="json", HTTP_IF_MATCH=read["ETag"])
    stale = client.patch(path, {"every_days": 7}, format="json", HTTP_IF_MATCH=read["ETag"])
    stale_delete = client.delete(path, HTTP_IF_MATCH=read["ETag"])

    assert first.status_code == 200
    assert first["ETag"] != read["ETag"]
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")
    assert stale_delete.status_code == 412
    assert MeasureSchedule.objects.get(pk=created.json()["id"]).every_days == 14
    assert client.delete(path, HTTP_IF_MATCH=first["ETag"]).status_code == 204


def test_the_patient_record_carries_screening_sex(clinic, admissions):
    patient = PatientFactory(clinic=clinic)
    client = client_of(admissions)

    response = client.patch(
        f"/api/v1/patients/{patient.pk}/", {"screening_sex": "female"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["screening_sex"] == "female"
    assert client.get(f"/api/v1/clinics/{clinic.pk}/").json()["crisis_text"]
