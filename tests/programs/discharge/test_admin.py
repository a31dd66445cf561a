"""The discharge summary in the admin: scoped to the staff member's clinics, the draft written
and signed on its page, read-only once signed but for add-only addenda, the PDF link."""

import pytest

from clinic.models import AuditAction, AuditEvent
from programs.models import DischargeSummary
from tests.factories import staff_user
from tests.programs.admin.helpers import log_in

pytestmark = pytest.mark.django_db

SUMMARIES = "/admin/programs/dischargesummary/"


def page_url(summary) -> str:
    return f"{SUMMARIES}{summary.pk}/change/"


def form_data(summary, **overrides):
    data = {
        "course_of_treatment": summary.course_of_treatment,
        "condition_at_discharge": summary.condition_at_discharge,
        "instructions": summary.instructions,
        "staff_notes": summary.staff_notes,
        "record_version": str(summary.version),
        "addenda-TOTAL_FORMS": "0",
        "addenda-INITIAL_FORMS": "0",
        "addenda-MIN_NUM_FORMS": "0",
        "addenda-MAX_NUM_FORMS": "1000",
    }
    return {**data, **overrides}


def test_the_list_is_the_clinics_and_audited(client, clinician, episode, other_clinic):
    log_in(client, clinician)

    response = client.get(SUMMARIES)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [episode.summary]
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="programs.dischargesummary"
    ).exists()
    outsider = staff_user(role="clinician", clinics=[other_clinic])
    log_in(client, outsider)
    assert client.get(page_url(episode.summary)).status_code in (302, 404)


def test_the_clinician_writes_and_signs_the_draft(client, clinician, episode):
    log_in(client, clinician)
    summary = episode.summary

    response = client.post(
        page_url(summary),
        form_data(
            summary,
            course_of_treatment="Residential then IOP.",
            condition_at_discharge="Stable.",
            sign="on",
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    summary.refresh_from_db()
    assert summary.course_of_treatment == "Residential then IOP."
    assert summary.signed_by == clinician


def test_signing_an_incomplete_draft_saves_nothing(client, clinician, episode):
    log_in(client, clinician)
    summary = episode.summary

    response = client.post(page_url(summary), form_data(summary, instructions="Call.", sign="on"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    summary.refresh_from_db()
    assert (summary.instructions, summary.signed_at) == ("", None)


def test_a_signed_summary_is_read_only_but_takes_an_addendum(client, clinician, signed):
    log_in(client, clinician)

    page = client.get(page_url(signed))
    assert page.status_code == 200
    assert "Download PDF" in page.content.decode()
    form = page.context["adminform"].form
    assert "course_of_treatment" not in form.fields

    response = client.post(
        page_url(signed),
        {
            "record_version": str(signed.version),
            "addenda-TOTAL_FORMS": "1",
            "addenda-INITIAL_FORMS": "0",
            "addenda-MIN_NUM_FORMS": "0",
            "addenda-MAX_NUM_FORMS": "1000",
            "addenda-0-text": "Labs came back normal.",
            "addenda-0-summary": str(signed.pk),
            "course_of_treatment": "Rewritten.",
        },
    )

    assert response.status_code == 302
    signed.refresh_from_db()
    assert signed.course_of_treatment == "Ten days residential, then IOP."
    assert [a.text for a in signed.addenda.all()] == ["Labs came back normal."]
    assert signed.addenda.get().signed_by == clinician


def test_no_one_adds_or_deletes_a_summary(client, supervisor, signed):
    log_in(client, supervisor)

    assert client.get(f"{SUMMARIES}add/").status_code == 403
    assert client.get(f"{SUMMARIES}{signed.pk}/delete/").status_code == 403
    assert DischargeSummary.objects.filter(pk=signed.pk).exists()


def test_the_pdf_link(client, clinic, signed):
    reader = staff_user(role="admissions", clinics=[clinic])
    log_in(client, reader)

    response = client.get(f"{SUMMARIES}{signed.pk}/pdf/")

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, actor=reader, object_id=str(signed.pk)
    ).exists()


def test_the_patients_page_links_the_summary_from_the_stay(client, clinician, episode):
    log_in(client, clinician)

    page = client.get(f"/admin/patients/patient/{episode.summary.patient_id}/change/")

    assert page.status_code == 200
    assert f'href="{page_url(episode.summary)}">summary</a>' in page.content.decode()
