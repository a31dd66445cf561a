"""The pre-admission screening (its provisional level and the withdrawal alert), the
verification of benefits and the contacts with the caller."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.errors import Conflict
from clinic.models import AlertKind, AuditEvent, StaffAlert
from patients.models import Severity
from patients.recommendation import AssessmentFacts, recommend
from programs.locks import inquiry_lock
from programs.models import InquiryStatus
from programs.services import inquiries
from tests.conftest import TUESDAY_10AM
from tests.factories import InquiryFactory, PayerFactory, staff_user

pytestmark = pytest.mark.django_db

CALM = {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 1, "d6": 1}


def screen(inquiry, actor, **answers):
    return inquiries.inquiry_screen(
        actor=actor,
        inquiry=inquiry,
        criteria_count=answers.pop("criteria_count", 2),
        dimensions={**CALM, **answers.pop("dimensions", {})},
        **answers,
    )


def test_the_screening_gives_the_recommendation_rules_level_and_moves_a_new_inquiry(
    frozen_time, clinic, admissions, clinician
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    screening = screen(
        inquiry, clinician, criteria_count=7, prior_outpatient_relapse=True, notes=" on the phone "
    )

    expected = recommend(
        AssessmentFacts(severity=Severity.SEVERE, dimensions=CALM, prior_outpatient_relapse=True)
    )
    assert screening.provisional_level == expected.level == "residential"
    assert screening.provisional_track == (expected.track or "")
    assert screening.rationale == expected.rationale
    assert (screening.screened_by, screening.screened_at) == (clinician, TUESDAY_10AM)
    assert screening.notes == "on the phone"
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.SCREENING
    assert inquiry.status_changes.last().changed_by == clinician
    assert AuditEvent.objects.filter(
        object_type="programs.inquiryscreening", object_id=str(screening.pk), clinic=clinic
    ).exists()


def test_a_later_screening_supersedes_without_moving_the_inquiry_again(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    screen(inquiry, admissions)

    later = screen(inquiry, admissions, dimensions={"d1": 3})

    assert later.provisional_level == "residential"
    assert inquiry.screenings.first() == later
    assert inquiry.status_changes.filter(to_status="screening").count() == 1


def test_a_withdrawal_flag_alerts_the_clinicians_once_per_inquiry_naming_no_one(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions, first_name="Quincy")
    screen(inquiry, admissions)
    assert not StaffAlert.objects.exists()

    screen(inquiry, admissions, withdrawal_flags=["seizure_history", "seizure_history"])
    again = screen(inquiry, admissions, withdrawal_flags=["withdrawing_now"])

    alert = StaffAlert.objects.get()
    assert (alert.kind, alert.recipient_role, alert.clinic_id) == (
        AlertKind.WITHDRAWAL_RISK,
        "clinician",
        clinic.pk,
    )
    assert (alert.object_type, alert.object_id) == ("programs.inquiry", str(inquiry.pk))
    assert "Quincy" not in alert.message
    assert "Caller" not in alert.message
    assert "withdrawal" in alert.message
    assert again.withdrawal_flags == ["withdrawing_now"]
    assert inquiry.screenings.last().withdrawal_flags == []


def test_a_screening_is_refused_with_field_errors(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    cases = [
        ({"criteria_count": 12}, "criteria_count"),
        ({"dimensions": {"d1": 5}}, "dimensions"),
        ({"withdrawal_flags": ["hiccups"]}, "withdrawal_flags"),
    ]
    for answers, field in cases:
        with pytest.raises(ValidationError) as refused:
            screen(inquiry, admissions, **answers)
        assert field in refused.value.message_dict

    with pytest.raises(ValidationError):
        inquiries.inquiry_screen(
            actor=admissions, inquiry=inquiry, criteria_count=2, dimensions={"d1": 1}
        )
    assert not inquiry.screenings.exists()


def test_benefits_are_verified_after_a_screening_and_move_the_inquiry_once(
    frozen_time, clinic, admissions
):
    reviewer = staff_user(role="utilization_review", clinics=[clinic])
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    payer = PayerFactory(clinic=clinic)

    with pytest.raises(Conflict) as unscreened:
        inquiries.inquiry_verify_benefits(
            actor=reviewer, inquiry=inquiry, payer=payer, level="iop", outcome="eligible"
        )
    screen(inquiry, admissions)
    first = inquiries.inquiry_verify_benefits(
        actor=reviewer,
        inquiry=inquiry,
        payer=payer,
        level="iop",
        outcome="eligible",
        member_id=" M123 ",
        in_network=True,
        deductible_remaining=Decimal("250.00"),
        prior_authorization_required=False,
    )
    second = inquiries.inquiry_verify_benefits(
        actor=reviewer, inquiry=inquiry, payer=payer, level="php", outcome="not_eligible"
    )

    assert unscreened.value.code == "screening_required"
    assert (first.member_id, first.verified_by, first.verified_at) == (
        "M123",
        reviewer,
        TUESDAY_10AM,
    )
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.VERIFYING
    assert inquiry.status_changes.filter(to_status="verifying").count() == 1
    assert list(inquiry.verifications.all()) == [second, first]


def test_a_verification_is_refused_another_clinics_payer_and_bad_values(
    clinic, admissions, other_clinic
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions, status="screening")
    cases = [
        ({"payer": PayerFactory(clinic=other_clinic)}, "payer"),
        ({"level": "detox"}, "level"),
        ({"outcome": "maybe"}, "outcome"),
        ({"deductible_remaining": Decimal("-1")}, "deductible_remaining"),
    ]
    for fields, field in cases:
        values = {"payer": PayerFactory(clinic=clinic), "level": "iop", "outcome": "eligible"}
        with pytest.raises(ValidationError) as refused:
            inquiries.inquiry_verify_benefits(
                actor=admissions, inquiry=inquiry, **{**values, **fields}
            )
        assert field in refused.value.message_dict


def test_a_contact_is_recorded_and_sets_the_next_contact_date(frozen_time, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    contact = inquiries.inquiry_contact_record(
        actor=admissions,
        inquiry=inquiry,
        method="phone",
        direction="outbound",
        outcome="left_message",
        note=" Voicemail. ",
        next_contact_on=datetime.date(2026, 12, 3),
    )

    inquiry.refresh_from_db()
    assert (contact.contacted_by, contact.contacted_at, contact.note) == (
        admissions,
        TUESDAY_10AM,
        "Voicemail.",
    )
    assert inquiry.next_contact_on == datetime.date(2026, 12, 3)
    assert inquiry.version == 2
    with pytest.raises(ValidationError) as past:
        inquiries.inquiry_contact_record(
            actor=admissions,
            inquiry=inquiry,
            method="sms",
            direction="inbound",
            outcome="reached",
            next_contact_on=datetime.date(2026, 11, 30),
        )
    assert "next_contact_on" in past.value.message_dict


def test_a_closed_inquiry_takes_no_screening_verification_or_contact(
    frozen_time, clinic, admissions
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status="not_admitted",
            actor=admissions,
            now=TUESDAY_10AM,
            not_admitted_reason="not_appropriate",
        )
    calls = [
        lambda: screen(inquiry, admissions),
        lambda: inquiries.inquiry_verify_benefits(
            actor=admissions,
            inquiry=inquiry,
            payer=PayerFactory(clinic=inquiry.clinic),
            level="iop",
            outcome="eligible",
        ),
        lambda: inquiries.inquiry_contact_record(
            actor=admissions,
            inquiry=inquiry,
            method="phone",
            direction="inbound",
            outcome="reached",
        ),
    ]
    for call in calls:
        with pytest.raises(Conflict) as refused:
            call()
        assert refused.value.code == "invalid_state"
