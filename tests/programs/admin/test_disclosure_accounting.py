"""The accounting of disclosures in the admin: the read-only Disclosure pages, the staff-only
bundle download, the patient's page; scoped to the staff member's clinics and audited."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction
from programs import fhir
from programs.services.disclosures import disclosure_create
from tests.factories import ConsentFactory, staff_user
from tests.programs.admin.helpers import audit_rows, html, log_in

pytestmark = pytest.mark.django_db

DISCLOSURES = "/admin/programs/disclosure/"
PRACTICE = "Harbor Outpatient Practice"


def disclose(actor, enrollment, recipient=PRACTICE):
    ConsentFactory(patient=enrollment.patient, actor=actor, tpo=True)
    return disclosure_create(
        actor=actor,
        patient=enrollment.patient,
        recipient_name=recipient,
        recipient_address="12 Harbor Road",
        purpose="treatment",
        categories=["demographics", "attendance"],
        enrollment=enrollment,
    )


@pytest.fixture
def sent(admissions, stay):
    return disclose(admissions, stay)


@pytest.fixture
def stranger_sent(stranger_stay):
    staff = staff_user(role="admissions", clinics=[stranger_stay.program.clinic])
    return disclose(staff, stranger_stay, recipient="Faraway Practice")


def bundle_url(disclosure) -> str:
    return f"{DISCLOSURES}{disclosure.pk}/bundle/"


# The list and the page ----------------------------------------------------------------------------


def test_the_list_shows_only_the_clinics_disclosures_and_audits_each_row(
    admissions_client, sent, stranger_sent
):
    response = admissions_client.get(DISCLOSURES)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [sent]
    page = html(response)
    assert PRACTICE in page
    assert "Faraway Practice" not in page
    assert bundle_url(sent) in page
    row = audit_rows(AuditAction.LIST, object_type="programs.disclosure").get()
    assert row.patient_id == sent.patient_id


def test_the_page_shows_the_accounting_and_is_audited(clinician_client, sent):
    response = clinician_client.get(f"{DISCLOSURES}{sent.pk}/change/")

    assert response.status_code == 200
    page = html(response)
    for text in [
        PRACTICE,
        "12 Harbor Road",
        "Treatment",
        "Demographics, Attendance",
        sent.description,
    ]:
        assert text in page, text
    row = audit_rows(AuditAction.READ, object_type="programs.disclosure").get()
    assert row.patient_id == sent.patient_id


def test_nobody_adds_changes_or_deletes_a_disclosure_here(admissions_client, sent):
    assert admissions_client.get(f"{DISCLOSURES}add/").status_code == 403
    assert admissions_client.post(f"{DISCLOSURES}add/", {}).status_code == 403
    response = admissions_client.post(
        f"{DISCLOSURES}{sent.pk}/change/", {"recipient_name": "Someone else"}
    )
    assert response.status_code == 403
    assert (
        admissions_client.post(f"{DISCLOSURES}{sent.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    sent.refresh_from_db()
    assert sent.recipient_name == PRACTICE


def test_a_supervisor_reads_the_accounting(client, supervisor, sent):
    log_in(client, supervisor)

    assert client.get(DISCLOSURES).status_code == 200
    assert client.get(f"{DISCLOSURES}{sent.pk}/change/").status_code == 200
    assert client.get(bundle_url(sent)).status_code == 200


def test_a_user_without_a_role_sees_nothing(client, user_without_role, sent):
    log_in(client, user_without_role)

    assert client.get(DISCLOSURES).status_code == 403
    assert client.get(f"{DISCLOSURES}{sent.pk}/change/").status_code == 403
    assert client.get(bundle_url(sent)).status_code == 403


def test_another_clinics_disclosure_is_not_found(admissions_client, stranger_sent):
    assert admissions_client.get(bundle_url(stranger_sent)).status_code == 404
    response = admissions_client.get(f"{DISCLOSURES}{stranger_sent.pk}/change/")
    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert not audit_rows(AuditAction.READ, object_type="programs.disclosure").exists()


# The bundle download ------------------------------------------------------------------------------


def test_the_download_is_the_builders_bundle_never_cached_and_audited(admissions_client, sent):
    response = admissions_client.get(bundle_url(sent))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "no-store" in response["Cache-Control"]
    assert json.loads(response.content) == json.loads(json.dumps(fhir.disclosure_bundle(sent)))
    row = audit_rows(AuditAction.READ, object_type="programs.disclosure").get()
    assert (row.patient_id, row.object_id) == (sent.patient_id, str(sent.pk))


# The patient's page -------------------------------------------------------------------------------


def test_the_patients_page_lists_the_disclosures_and_offers_sending(
    admissions_client, admissions, sent, stay
):
    response = admissions_client.get(f"/admin/patients/patient/{stay.patient_id}/change/")

    assert response.status_code == 200
    page = html(response)
    for text in [PRACTICE, "Treatment", "Demographics, Attendance", admissions.username]:
        assert text in page, text
    assert bundle_url(sent) in page
    assert f"/admin/programs/enrollment/{stay.pk}/disclose/?next=" in page
    # One read row for the page, as before: the tables are part of it.
    assert audit_rows(AuditAction.READ, patient_id=stay.patient_id).count() == 1


def test_the_patients_page_offers_no_sending_to_a_supervisor(client, supervisor, sent, stay):
    log_in(client, supervisor)

    page = html(client.get(f"/admin/patients/patient/{stay.patient_id}/change/"))

    assert PRACTICE in page
    assert f"/admin/programs/enrollment/{stay.pk}/disclose/" not in page


def test_the_patients_page_reads_consents_and_disclosures_in_constant_queries(
    admissions_client, admissions, stay
):
    def queries_of_the_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = admissions_client.get(f"/admin/patients/patient/{stay.patient_id}/change/")
        assert response.status_code == 200
        return len(captured.captured_queries)

    disclose(admissions, stay)
    one_each = queries_of_the_page()
    for n in range(3):
        disclose(admissions, stay, recipient=f"Practice {n}")

    assert queries_of_the_page() == one_each
