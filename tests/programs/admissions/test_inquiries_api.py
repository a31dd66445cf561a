"""The inquiries' API: scoped, audited, the detail with its ETag, and the desk's writes."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditAction, AuditEvent
from programs.models import AdmissionHold, InquiryStatus
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    InquiryFactory,
    PatientFactory,
    PayerFactory,
    ProgramFactory,
    client_of,
    referral_source,
    staff_user,
)

pytestmark = pytest.mark.django_db

SCREENING = {
    "criteria_count": 6,
    "dimensions": {"d1": 3, "d2": 1, "d3": 1, "d4": 2, "d5": 2, "d6": 2},
    "withdrawal_flags": ["heavy_daily_alcohol"],
}


def test_admissions_take_a_call_and_get_the_detail_with_its_etag(frozen_time, clinic, admissions):
    client = client_of(admissions)

    response = client.post(
        "/api/v1/inquiries/",
        {
            "clinic": clinic.pk,
            "referral_source": referral_source(clinic, "family").pk,
            "first_name": "Jamie",
            "last_name": "Ortiz",
            "phone": "(202) 555-0143",
            "caller_relation": "parent",
            "callback_consent": True,
            "callback_method": "sms",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["ETag"] == f'"{body["id"]}-1"'
    assert "no-store" in response["Cache-Control"]
    assert body["status"] == "new"
    assert body["phone"] == "+12025550143"
    assert body["referral_source_name"] == "Family"
    assert body["status_history"] == [
        {
            "from_status": "",
            "to_status": "new",
            "changed_at": "2026-12-01T15:00:00Z",
            "changed_by": admissions.username,
            "reason": "",
        }
    ]
    assert (body["latest_screening"], body["latest_verification"], body["hold"]) == (
        None,
        None,
        None,
    )
    assert body["contacts"] == []
    assert body["overdue"] is False


def test_a_possible_duplicate_is_a_409_with_the_ids(clinic, admissions):
    patient = PatientFactory(clinic=clinic, phone="+12025550143")
    data = {
        "clinic": clinic.pk,
        "referral_source": referral_source(clinic).pk,
        "first_name": "Jamie",
        "last_name": "Ortiz",
        "phone": "202-555-0143",
    }

    refused = client_of(admissions).post("/api/v1/inquiries/", data, format="json")
    allowed = client_of(admissions).post(
        "/api/v1/inquiries/", {**data, "allow_duplicate": True}, format="json"
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "possible_duplicate"
    assert refused.json()["duplicates"] == {"patients": [patient.pk], "inquiries": []}
    assert allowed.status_code == 201


def test_a_bad_phone_or_another_clinics_source_is_a_400_naming_the_field(
    clinic, admissions, other_clinic
):
    data = {
        "clinic": clinic.pk,
        "referral_source": referral_source(clinic).pk,
        "first_name": "A",
        "last_name": "B",
    }
    client = client_of(admissions)

    bad_phone = client.post("/api/v1/inquiries/", {**data, "phone": "call me"}, format="json")
    foreign = client.post(
        "/api/v1/inquiries/",
        {**data, "referral_source": referral_source(other_clinic).pk},
        format="json",
    )

    assert bad_phone.status_code == foreign.status_code == 400
    assert "phone" in bad_phone.json()["fields"]
    assert "referral_source" in foreign.json()["fields"]


def test_the_list_is_scoped_filtered_and_audited_per_row(
    frozen_time, clinic, admissions, other_clinic
):
    mine = [InquiryFactory(clinic=clinic, actor=admissions) for _ in range(2)]
    screened = InquiryFactory(clinic=clinic, actor=admissions, status="screening")
    InquiryFactory(clinic=other_clinic)
    client = client_of(staff_user(role="clinician", clinics=[clinic]))
    before = AuditEvent.objects.filter(action=AuditAction.LIST).count()

    everything = client.get("/api/v1/inquiries/").json()["results"]
    screening = client.get("/api/v1/inquiries/", {"status": "screening"}).json()["results"]
    other = client.get("/api/v1/inquiries/", {"clinic": other_clinic.pk}).json()["results"]

    assert sorted(row["id"] for row in everything) == sorted(i.pk for i in [*mine, screened])
    assert [row["id"] for row in screening] == [screened.pk]
    assert other == []
    assert AuditEvent.objects.filter(action=AuditAction.LIST).count() - before == 4
    listed = AuditEvent.objects.filter(action=AuditAction.LIST, object_id=str(screened.pk))
    assert {(e.object_type, e.clinic_id) for e in listed} == {("programs.inquiry", clinic.pk)}


def test_the_overdue_filter(frozen_time, clinic, admissions):
    late = InquiryFactory(
        clinic=clinic, actor=admissions, next_contact_on=datetime.date(2026, 11, 30)
    )
    InquiryFactory(clinic=clinic, actor=admissions, next_contact_on=datetime.date(2026, 12, 1))
    client = client_of(admissions)

    overdue = client.get("/api/v1/inquiries/", {"overdue": "true"}).json()["results"]
    on_time = client.get("/api/v1/inquiries/", {"overdue": "false"}).json()["results"]

    assert [row["id"] for row in overdue] == [late.pk]
    assert [row["overdue"] for row in overdue] == [True]
    assert late.pk not in [row["id"] for row in on_time]


def test_another_clinics_inquiry_is_a_404(clinic, admissions, other_clinic):
    outside = InquiryFactory(clinic=other_clinic)
    client = client_of(admissions)

    assert client.get(f"/api/v1/inquiries/{outside.pk}/").status_code == 404
    response = client.post(
        f"/api/v1/inquiries/{outside.pk}/contacts/",
        {"method": "phone", "direction": "outbound", "outcome": "reached"},
        format="json",
    )
    assert response.status_code == 404


def test_patch_takes_if_match_and_refuses_a_stale_version(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    program = ProgramFactory(clinic=clinic, iop=True)
    client = client_of(admissions)
    etag = client.get(f"/api/v1/inquiries/{inquiry.pk}/")["ETag"]

    changed = client.patch(
        f"/api/v1/inquiries/{inquiry.pk}/",
        {"program": program.pk, "next_contact_on": "2030-01-02"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    stale = client.patch(
        f"/api/v1/inquiries/{inquiry.pk}/", {"notes": "x"}, format="json", HTTP_IF_MATCH=etag
    )

    assert changed.status_code == 200, changed.json()
    assert (changed.json()["program"], changed.json()["next_contact_on"]) == (
        program.pk,
        "2030-01-02",
    )
    assert changed["ETag"] != etag
    assert stale.status_code == 412


def test_a_clinician_screens_and_the_detail_shows_the_latest_screening(
    frozen_time, clinic, admissions, clinician
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    client = client_of(clinician)

    response = client.post(f"/api/v1/inquiries/{inquiry.pk}/screenings/", SCREENING, format="json")
    detail = client.get(f"/api/v1/inquiries/{inquiry.pk}/").json()

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["provisional_level"] == "residential"
    assert body["rationale"]
    assert body["dimensions"] == SCREENING["dimensions"]
    assert body["withdrawal_flags"] == ["heavy_daily_alcohol"]
    assert detail["status"] == "screening"
    assert detail["latest_screening"]["id"] == body["id"]
    assert [row["to_status"] for row in detail["status_history"]] == ["new", "screening"]


def test_who_screens_verifies_and_records_contacts(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions, status="screening")
    reviewer = client_of(staff_user(role="utilization_review", clinics=[clinic]))
    clinician = client_of(staff_user(role="clinician", clinics=[clinic]))
    verification = {
        "payer": PayerFactory(clinic=clinic).pk,
        "level": "residential",
        "outcome": "eligible",
        "deductible_remaining": "120.50",
    }
    contact = {"method": "phone", "direction": "outbound", "outcome": "no_answer"}
    base = f"/api/v1/inquiries/{inquiry.pk}"

    assert reviewer.post(f"{base}/screenings/", SCREENING, format="json").status_code == 403
    assert clinician.post(f"{base}/verifications/", verification, format="json").status_code == 403
    assert clinician.post(f"{base}/contacts/", contact, format="json").status_code == 403
    verified = reviewer.post(f"{base}/verifications/", verification, format="json")
    contacted = client_of(admissions).post(f"{base}/contacts/", contact, format="json")

    assert verified.status_code == 201, verified.json()
    assert verified.json()["deductible_remaining"] == "120.50"
    assert contacted.status_code == 201
    detail = clinician.get(f"{base}/").json()
    assert detail["status"] == "verifying"
    assert detail["latest_verification"]["id"] == verified.json()["id"]
    assert [row["id"] for row in detail["contacts"]] == [contacted.json()["id"]]


def test_a_verification_before_a_screening_is_a_409(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    response = client_of(admissions).post(
        f"/api/v1/inquiries/{inquiry.pk}/verifications/",
        {"payer": PayerFactory(clinic=clinic).pk, "level": "iop", "outcome": "eligible"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "screening_required"


def test_the_detail_shows_the_live_hold(frozen_time, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    program = ProgramFactory(clinic=clinic, outpatient=True)
    # Slice B's service holds places; the row alone is what the detail reads.
    hold = AdmissionHold.objects.create(
        inquiry=inquiry,
        program=program,
        admission_date=datetime.date(2026, 12, 3),
        lapses_on=datetime.date(2026, 12, 4),
        created_by=admissions,
        created_at=TUESDAY_10AM,
    )

    body = client_of(admissions).get(f"/api/v1/inquiries/{inquiry.pk}/").json()

    assert body["hold"] == {
        "id": hold.pk,
        "program": program.pk,
        "admission_date": "2026-12-03",
        "lapses_on": "2026-12-04",
        "bed": None,
    }


def test_referral_sources_are_the_callers_clinics(clinic, other_clinic, admissions):
    client = client_of(admissions)

    rows = client.get("/api/v1/referral-sources/").json()["results"]
    other = client.get("/api/v1/referral-sources/", {"clinic": other_clinic.pk}).json()

    assert {row["clinic"] for row in rows} == {clinic.pk}
    assert len(rows) == 7
    assert other["results"] == []


def test_the_inquiry_list_is_pinned_whatever_the_page_size(frozen_time, clinic, admissions):
    """The page (with its source and program) in one query, the count, and one audit INSERT,
    whatever the page size (the caller's roles and clinics are cached after the first)."""
    for _ in range(3):
        InquiryFactory(clinic=clinic, actor=admissions, status=InquiryStatus.SCREENING)
    client = client_of(staff_user(role="supervisor", clinics=[clinic]))

    def queries(page_size):
        client.get("/api/v1/inquiries/", {"page_size": page_size})  # warm
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/inquiries/", {"page_size": page_size})
        assert response.status_code == 200
        return len(captured)

    assert queries(1) == queries(200) == 3
