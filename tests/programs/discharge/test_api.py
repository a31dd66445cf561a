"""discharge-summaries/ for staff (list, read with its ETag, write, sign, addenda, PDF) and the
patient's me/discharge-summary/ (own signed summary only, no staff notes)."""

import pytest

from clinic.models import AuditAction, AuditEvent
from tests.factories import ProgramFactory, app_account, client_of, staff_user
from tests.programs.discharge.helpers import BASE, complete, discharge, make_episode

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/discharge-summary/"


def audits_of(summary, action=AuditAction.READ):
    return AuditEvent.objects.filter(
        object_type="programs.dischargesummary", object_id=str(summary.pk), action=action
    )


# Staff ------------------------------------------------------------------------------------------


def test_staff_list_their_clinics_summaries_with_filters(episode, clinic, other_clinic):
    admissions = staff_user(role="admissions", clinics=[clinic])
    outsider = staff_user(role="clinician", clinics=[other_clinic])

    page = client_of(admissions).get(BASE).json()
    assert [row["id"] for row in page["results"]] == [episode.summary.pk]
    row = page["results"][0]
    assert row["levels_of_care"][1]["transition"] == "step_down"
    assert row["attendance"]["scheduled"] == 5
    assert row["pdf_url"].endswith(f"{BASE}{episode.summary.pk}/pdf/")
    assert audits_of(episode.summary, AuditAction.LIST).count() == 1

    assert client_of(admissions).get(BASE, {"signed": "true"}).json()["results"] == []
    assert len(client_of(admissions).get(BASE, {"signed": "false"}).json()["results"]) == 1
    assert client_of(admissions).get(BASE, {"patient": 0}).json()["results"] == []
    program = episode.iop.program_id
    assert len(client_of(admissions).get(BASE, {"program": program}).json()["results"]) == 1
    assert client_of(outsider).get(BASE).json()["results"] == []
    assert client_of(outsider).get(f"{BASE}{episode.summary.pk}/").status_code == 404


def test_read_write_and_sign_with_if_match(episode, clinician):
    client = client_of(clinician)
    url = f"{BASE}{episode.summary.pk}/"
    etag = client.get(url)["ETag"]

    response = client.patch(
        url,
        {"course_of_treatment": "Residential then IOP.", "condition_at_discharge": "Stable."},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 200, response.json()
    assert response["ETag"] != etag

    stale = client.patch(url, {"instructions": "Call."}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"

    signed = client.post(f"{url}sign/", HTTP_IF_MATCH=response["ETag"])
    assert signed.status_code == 200, signed.json()
    assert signed.json()["signed"] is True
    assert signed.json()["signed_by"] == clinician.pk

    locked = client.patch(url, {"instructions": "Call."}, format="json")
    assert locked.status_code == 409
    assert locked.json()["code"] == "summary_signed"
    assert "addendum" in locked.json()["detail"]


def test_signing_an_incomplete_summary_is_a_400(episode, clinician):
    response = client_of(clinician).post(f"{BASE}{episode.summary.pk}/sign/")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"course_of_treatment", "condition_at_discharge"}


def test_admissions_read_but_do_not_write(episode, clinic):
    admissions = client_of(staff_user(role="admissions", clinics=[clinic]))
    url = f"{BASE}{episode.summary.pk}/"

    assert admissions.get(url).status_code == 200
    assert admissions.patch(url, {"instructions": "X"}, format="json").status_code == 403
    assert admissions.post(f"{url}sign/").status_code == 403


def test_addenda(signed, clinician):
    url = f"{BASE}{signed.pk}/addenda/"

    empty = client_of(clinician).post(url, {"text": ""}, format="json")
    created = client_of(clinician).post(url, {"text": "Labs normal."}, format="json")

    assert empty.status_code == 400
    assert created.status_code == 201
    assert created.json()["text"] == "Labs normal."
    detail = client_of(clinician).get(f"{BASE}{signed.pk}/").json()
    assert [a["text"] for a in detail["addenda"]] == ["Labs normal."]


def test_an_addendum_to_a_draft_is_a_409(episode, clinician):
    response = client_of(clinician).post(
        f"{BASE}{episode.summary.pk}/addenda/", {"text": "Early."}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "summary_not_signed"


def test_the_staff_pdf_download(signed, clinic):
    reader = staff_user(role="utilization_review", clinics=[clinic])

    response = client_of(reader).get(f"{BASE}{signed.pk}/pdf/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == (
        f'attachment; filename="discharge-summary-{signed.pk}.pdf"'
    )
    assert audits_of(signed).filter(actor=reader).count() == 1


def test_the_pdf_of_an_unknown_or_outside_summary_is_a_json_404(signed, other_clinic):
    outsider = staff_user(role="clinician", clinics=[other_clinic])

    response = client_of(outsider).get(f"{BASE}{signed.pk}/pdf/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


def test_a_bad_copy_is_a_400(signed, clinician):
    response = client_of(clinician).get(f"{BASE}{signed.pk}/pdf/", {"copy": "lawyer"})
    assert response.status_code == 400
    assert "copy" in response.json()["fields"]


# The patient ------------------------------------------------------------------------------------


def test_the_patient_reads_their_signed_summary_without_staff_notes(signed):
    patient = signed.patient
    client = client_of(app_account(patient))

    response = client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == signed.pk
    assert "staff_notes" not in body
    assert "signed_by" not in body
    assert "Watch the brother" not in response.content.decode()
    assert body["signed_by_name"] == signed.signed_by.get_username()
    assert "no-store" in response["Cache-Control"]
    assert audits_of(signed).filter(patient_id=patient.pk).count() == 1


def test_the_patient_pdf_is_the_patient_copy(signed):
    client = client_of(app_account(signed.patient))

    response = client.get(f"{ME}pdf/")

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert "patient" not in response["Content-Disposition"].replace("discharge-summary", "")


def test_a_draft_is_not_the_patients_yet(episode):
    client = client_of(app_account(episode.summary.patient))

    for path in (ME, f"{ME}pdf/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["detail"].startswith("You have no signed discharge summary")


def test_the_patient_sees_only_their_own(signed, clinic, admissions, clinician):
    programs = (
        ProgramFactory(clinic=clinic, level="residential", name="Cedar House", capacity=8),
        ProgramFactory(clinic=clinic, level="iop", name="Day IOP", capacity=8),
    )
    ben = make_episode(
        clinic, admissions, clinician, first_name="Ben", last_name="Ng", programs=programs
    )
    ben = discharge(ben, clinician)
    from programs.services import discharge_summaries

    complete(ben.summary, clinician)
    discharge_summaries.discharge_summary_sign(ben.summary, actor=clinician, now=signed.signed_at)

    body = client_of(app_account(ben.summary.patient)).get(ME).json()

    assert body["id"] == ben.summary.pk
    assert body["id"] != signed.pk
