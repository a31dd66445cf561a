"""Inquiries in the admin: taken and edited through the services, the screening, verification
and contact pages, read-only once closed, scoped to the staff member's clinics and audited."""

import pytest
from django.db import transaction

from clinic.models import AuditAction, AuditEvent, StaffAlert
from programs.locks import inquiry_lock
from programs.models import Inquiry, InquiryStatus, ReferralSource
from programs.services import inquiries
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    InquiryFactory,
    PatientFactory,
    PayerFactory,
    referral_source,
    staff_user,
)
from tests.programs.admin.helpers import html, log_in

pytestmark = pytest.mark.django_db

INQUIRIES = "/admin/programs/inquiry/"


def add_form(clinic, **overrides):
    data = {
        "clinic": str(clinic.pk),
        "received_at_0": "",
        "received_at_1": "",
        "first_name": "Jamie",
        "last_name": "Ortiz",
        "date_of_birth": "",
        "phone": "",
        "email": "",
        "caller_relation": "self",
        "caller_name": "",
        "caller_phone": "",
        "caller_email": "",
        "referral_source": str(referral_source(clinic, "online").pk),
        "referring_organization": "",
        "referring_contact": "",
        "substances": "",
        "urgency": "",
        "callback_method": "",
        "program": "",
        "next_contact_on": "",
        "patient": "",
        "notes": "",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_admissions_take_a_call_and_land_on_its_page(frozen_time, client, clinic, admissions):
    log_in(client, admissions)

    response = client.post(f"{INQUIRIES}add/", add_form(clinic, phone="202 555 0143"))

    inquiry = Inquiry.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{INQUIRIES}{inquiry.pk}/change/"
    assert (inquiry.phone, inquiry.received_at, inquiry.created_by) == (
        "+12025550143",
        TUESDAY_10AM,
        admissions,
    )
    assert inquiry.status_changes.count() == 1


def test_a_possible_duplicate_is_a_form_error_until_taken_anyway(client, clinic, admissions):
    PatientFactory(clinic=clinic, phone="+12025550143")
    log_in(client, admissions)

    refused = client.post(f"{INQUIRIES}add/", add_form(clinic, phone="2025550143"))
    taken = client.post(
        f"{INQUIRIES}add/", add_form(clinic, phone="2025550143", allow_duplicate="on")
    )

    assert refused.status_code == 200
    assert "may already be a patient" in html(refused)
    assert taken.status_code == 302
    assert Inquiry.objects.count() == 1


def test_the_page_shows_the_records_and_the_buttons_by_role_and_is_audited(
    client, clinic, admissions
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions, status="verifying")
    reviewer = staff_user(role="utilization_review", clinics=[clinic])
    log_in(client, reviewer)

    page = html(client.get(f"{INQUIRIES}{inquiry.pk}/change/"))

    assert "Verify benefits" in page
    assert f"{INQUIRIES}{inquiry.pk}/screen/" not in page
    assert f"{INQUIRIES}{inquiry.pk}/record_contact/" not in page
    assert "Eligible" in page  # the verifications' table
    assert "Outpatient" in page  # the screening's provisional level
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, actor=reviewer, object_id=str(inquiry.pk)
    ).exists()


def test_the_screening_page_screens_and_alerts_on_withdrawal(client, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    clinician = staff_user(role="clinician", clinics=[clinic])
    log_in(client, clinician)
    url = f"{INQUIRIES}{inquiry.pk}/screen/"

    opened = client.get(url)
    response = client.post(
        url,
        {
            "criteria_count": "6",
            **{f"d{n}": "1" for n in range(1, 7)},
            "withdrawal_flags": ["withdrawing_now"],
            "notes": "",
        },
    )

    assert opened.status_code == 200
    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.SCREENING
    assert inquiry.screenings.get().withdrawal_flags == ["withdrawing_now"]
    assert StaffAlert.objects.filter(kind="withdrawal_risk").count() == 1
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, actor=clinician, object_id=str(inquiry.pk), clinic=clinic
    ).exists()


def test_the_verification_page_shows_the_services_refusal(client, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    payer = PayerFactory(clinic=clinic)
    log_in(client, admissions)

    response = client.post(
        f"{INQUIRIES}{inquiry.pk}/verify_benefits/",
        {
            "payer": str(payer.pk),
            "subscriber_relation": "self",
            "level": "iop",
            "outcome": "eligible",
            "in_network": "unknown",
            "prior_authorization_required": "unknown",
        },
    )

    assert response.status_code == 200
    assert "Screen the caller before verifying benefits" in html(response)
    assert not inquiry.verifications.exists()


def test_the_contact_page_records_a_contact_and_the_next_date(client, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    log_in(client, admissions)

    response = client.post(
        f"{INQUIRIES}{inquiry.pk}/record_contact/",
        {
            "method": "phone",
            "direction": "outbound",
            "outcome": "reached",
            "note": "",
            "next_contact_on": "2030-01-02",
        },
    )

    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert str(inquiry.next_contact_on) == "2030-01-02"
    assert inquiry.contacts.get().outcome == "reached"


def test_a_closed_inquiry_is_read_only_without_buttons(frozen_time, client, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status="not_admitted",
            actor=admissions,
            now=TUESDAY_10AM,
            not_admitted_reason="chose_elsewhere",
        )
    log_in(client, admissions)

    page = html(client.get(f"{INQUIRIES}{inquiry.pk}/change/"))
    posted = client.post(f"{INQUIRIES}{inquiry.pk}/change/", {"notes": "x"})

    assert 'name="first_name"' not in page
    assert f"{INQUIRIES}{inquiry.pk}/screen/" not in page
    assert posted.status_code == 403


def test_an_edit_goes_through_the_service_with_the_version(client, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    log_in(client, admissions)
    data = add_form(clinic, first_name=inquiry.first_name, last_name="Caller")
    del data["clinic"], data["received_at_0"], data["received_at_1"]
    data["referral_source"] = str(inquiry.referral_source_id)

    response = client.post(
        f"{INQUIRIES}{inquiry.pk}/change/",
        {**data, "notes": "Mother called back.", "record_version": "1"},
    )
    stale = client.post(
        f"{INQUIRIES}{inquiry.pk}/change/", {**data, "notes": "Again.", "record_version": "1"}
    )

    assert response.status_code == 302
    inquiry.refresh_from_db()
    assert (inquiry.notes, inquiry.version) == ("Mother called back.", 2)
    assert stale.status_code == 200
    assert "reload it" in html(stale)


def test_the_list_shows_only_the_staff_members_clinics_audited_per_row(
    client, clinic, other_clinic, admissions
):
    mine = InquiryFactory(clinic=clinic, actor=admissions, last_name="Homefield")
    InquiryFactory(clinic=other_clinic, last_name="Elsewhere")
    supervisor = staff_user(role="supervisor", clinics=[clinic])
    log_in(client, supervisor)

    page = html(client.get(INQUIRIES))

    assert "Homefield" in page
    assert "Elsewhere" not in page
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, actor=supervisor, object_id=str(mine.pk)
    ).exists()
    assert client.get(f"{INQUIRIES}add/").status_code == 403


def test_supervisors_keep_the_referral_sources(client, clinic, supervisor, admissions):
    log_in(client, supervisor)

    response = client.post(
        "/admin/programs/referralsource/add/",
        {"clinic": str(clinic.pk), "name": "Radio", "kind": "other", "is_active": "on"},
    )
    taken = client.post(
        "/admin/programs/referralsource/add/",
        {"clinic": str(clinic.pk), "name": "radio", "kind": "other", "is_active": "on"},
    )

    assert response.status_code == 302
    assert ReferralSource.objects.filter(clinic=clinic, name="Radio").exists()
    assert taken.status_code == 200
    assert "already has a referral source" in html(taken)
    log_in(client, admissions)
    assert client.get("/admin/programs/referralsource/add/").status_code == 403
