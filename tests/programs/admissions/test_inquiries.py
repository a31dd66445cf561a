"""Inquiries (issue 28): taking the call with the duplicate check, editing it, and the one home
of its status moves."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import Conflict, PreconditionFailed
from clinic.models import AuditAction, AuditEvent
from programs.locks import inquiry_lock
from programs.models import InquiryStatus, InquiryStatusChange, ReferralSource
from programs.services import inquiries
from tests.conftest import TUESDAY_10AM
from tests.factories import (
    ClinicFactory,
    InquiryFactory,
    PatientFactory,
    ProgramFactory,
    referral_source,
)

pytestmark = pytest.mark.django_db


def take_call(admissions, clinic, **fields):
    return inquiries.inquiry_create(
        actor=admissions,
        clinic=clinic,
        referral_source=referral_source(clinic, fields.pop("kind", "self")),
        first_name=fields.pop("first_name", "Jamie"),
        last_name=fields.pop("last_name", "Ortiz"),
        **fields,
    )


def test_a_call_becomes_a_new_inquiry_with_its_first_status_row_and_an_audit_row(
    frozen_time, clinic, admissions
):
    inquiry = take_call(
        admissions,
        clinic,
        kind="court",
        phone="(202) 555-0143",
        caller_relation="parent",
        caller_name="  Dana Ortiz ",
        caller_phone="202-555-0199",
        substances="Alcohol, daily",
    )

    assert inquiry.status == InquiryStatus.NEW
    assert inquiry.received_at == TUESDAY_10AM
    assert (inquiry.phone, inquiry.caller_phone) == ("+12025550143", "+12025550199")
    assert inquiry.caller_name == "Dana Ortiz"
    assert inquiry.referral_source.kind == "court"
    assert list(inquiry.status_changes.values_list("from_status", "to_status", "changed_by")) == [
        ("", "new", admissions.pk)
    ]
    audit = AuditEvent.objects.get(object_type="programs.inquiry", object_id=str(inquiry.pk))
    assert (audit.action, audit.actor, audit.clinic_id) == (
        AuditAction.CREATE,
        admissions,
        clinic.pk,
    )


def test_a_registered_patient_with_the_same_names_and_birth_date_is_a_possible_duplicate(
    clinic, admissions
):
    patient = PatientFactory(
        clinic=clinic,
        first_name="Jamie",
        last_name="Ortiz",
        date_of_birth=datetime.date(1990, 5, 4),
    )

    with pytest.raises(Conflict) as refused:
        take_call(
            admissions,
            clinic,
            first_name=" JAMIE ",
            last_name="ortiz",
            date_of_birth=datetime.date(1990, 5, 4),
        )

    assert refused.value.code == "possible_duplicate"
    assert refused.value.extra == {"duplicates": {"patients": [patient.pk], "inquiries": []}}
    allowed = take_call(
        admissions, clinic, date_of_birth=datetime.date(1990, 5, 4), allow_duplicate=True
    )
    assert allowed.pk


def test_the_same_phone_as_a_patient_or_an_open_inquiry_is_a_possible_duplicate(clinic, admissions):
    patient = PatientFactory(clinic=clinic, phone="+12025550143")
    first = take_call(
        admissions, clinic, first_name="Sam", caller_relation="spouse", caller_phone="2025550177"
    )

    with pytest.raises(Conflict) as by_phone:
        take_call(admissions, clinic, first_name="Alex", phone="202 555 0143")
    with pytest.raises(Conflict) as by_caller:
        take_call(admissions, clinic, first_name="Lee", phone="+1 202 555 0177")

    assert by_phone.value.extra["duplicates"] == {"patients": [patient.pk], "inquiries": []}
    assert by_caller.value.extra["duplicates"] == {"patients": [], "inquiries": [first.pk]}


def test_closed_inquiries_other_clinics_and_a_professional_callers_number_are_no_duplicates(
    frozen_time, clinic, admissions
):
    closed = take_call(admissions, clinic, first_name="Sam", phone="2025550143")
    with transaction.atomic():
        locked = inquiry_lock(closed.pk)
        inquiries.inquiry_status_move(
            locked,
            to_status=InquiryStatus.NOT_ADMITTED,
            actor=admissions,
            now=TUESDAY_10AM,
            not_admitted_reason="chose_elsewhere",
        )
    PatientFactory(clinic=ClinicFactory(), phone="+12025550143")
    referrer = {"caller_relation": "professional", "caller_phone": "2025550100"}
    take_call(admissions, clinic, first_name="Kim", kind="hospital", **referrer)

    again = take_call(admissions, clinic, first_name="Ray", phone="2025550143", **referrer)

    assert again.status == InquiryStatus.NEW


def test_a_call_is_refused_with_field_errors(frozen_time, clinic, admissions, other_clinic):
    cases = [
        ({"received_at": TUESDAY_10AM + datetime.timedelta(minutes=1)}, "received_at"),
        ({"phone": "not a number"}, "phone"),
        ({"date_of_birth": datetime.date(2026, 12, 2)}, "date_of_birth"),
        ({"callback_method": "sms"}, "callback_method"),
        ({"program": ProgramFactory(clinic=other_clinic)}, "program"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as refused:
            take_call(admissions, clinic, **fields)
        assert field in refused.value.message_dict, fields

    with pytest.raises(ValidationError) as foreign_source:
        inquiries.inquiry_create(
            actor=admissions,
            clinic=clinic,
            referral_source=referral_source(other_clinic),
            first_name="A",
            last_name="B",
        )
    assert "referral_source" in foreign_source.value.message_dict


def test_an_update_changes_the_details_and_the_version_and_links_a_patient(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    patient = PatientFactory(clinic=clinic)
    program = ProgramFactory(clinic=clinic, iop=True)

    updated = inquiries.inquiry_update(
        actor=admissions,
        inquiry=inquiry,
        expected_versions={inquiry.version},
        caller_phone="202-555-0101",
        callback_consent=True,
        callback_method="sms",
        program=program,
        patient=patient,
        next_contact_on=datetime.date(2030, 1, 2),
    )

    assert updated.version == inquiry.version + 1
    assert (updated.caller_phone, updated.callback_method) == ("+12025550101", "sms")
    assert (updated.program, updated.patient) == (program, patient)
    audit = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(inquiry.pk)).get()
    assert audit.patient_id == patient.pk
    with pytest.raises(PreconditionFailed):
        inquiries.inquiry_update(
            actor=admissions, inquiry=updated, expected_versions={inquiry.version}, notes="x"
        )


def test_an_update_refuses_another_clinics_patient_and_unknown_fields(
    clinic, admissions, other_clinic
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    with pytest.raises(ValidationError) as foreign:
        inquiries.inquiry_update(
            actor=admissions, inquiry=inquiry, patient=PatientFactory(clinic=other_clinic)
        )
    with pytest.raises(ValidationError) as unknown:
        inquiries.inquiry_update(actor=admissions, inquiry=inquiry, status="admitted")

    assert "patient" in foreign.value.message_dict
    assert "status" in unknown.value.message_dict


def test_a_closed_inquiry_is_not_edited(frozen_time, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status=InquiryStatus.NOT_ADMITTED,
            actor=admissions,
            now=TUESDAY_10AM,
            not_admitted_reason="unable_to_reach",
        )

    with pytest.raises(Conflict) as refused:
        inquiries.inquiry_update(actor=admissions, inquiry=inquiry, notes="Called again.")

    assert refused.value.code == "invalid_state"
    assert "not admitted" in refused.value.detail


def test_a_status_move_appends_its_row_and_a_refused_move_names_the_current_status(
    frozen_time, clinic, admissions
):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    with transaction.atomic():
        locked = inquiry_lock(inquiry.pk)
        change = inquiries.inquiry_status_move(
            locked,
            to_status=InquiryStatus.SCREENING,
            actor=admissions,
            now=TUESDAY_10AM,
            reason="Screened on the first call.",
        )
    with pytest.raises(Conflict) as skipped, transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status=InquiryStatus.ADMITTED,
            actor=admissions,
            now=TUESDAY_10AM,
        )
    with pytest.raises(Conflict) as same, transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status=InquiryStatus.SCREENING,
            actor=admissions,
            now=TUESDAY_10AM,
        )

    assert (change.from_status, change.to_status, change.reason) == (
        "new",
        "screening",
        "Screened on the first call.",
    )
    assert skipped.value.code == same.value.code == "invalid_state"
    assert skipped.value.detail == "This inquiry is screening; it cannot become admitted."
    inquiry.refresh_from_db()
    assert inquiry.status == InquiryStatus.SCREENING
    assert inquiry.status_changes.count() == 2


def test_not_admitted_takes_a_reason_and_only_then(frozen_time, clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    for to_status, reason in (("not_admitted", ""), ("screening", "no_show")):
        with pytest.raises(ValidationError), transaction.atomic():
            inquiries.inquiry_status_move(
                inquiry_lock(inquiry.pk),
                to_status=to_status,
                actor=admissions,
                now=TUESDAY_10AM,
                not_admitted_reason=reason,
            )
    with transaction.atomic():
        inquiries.inquiry_status_move(
            inquiry_lock(inquiry.pk),
            to_status="not_admitted",
            actor=None,
            now=TUESDAY_10AM,
            not_admitted_reason="no_show",
        )

    inquiry.refresh_from_db()
    assert (inquiry.status, inquiry.not_admitted_reason) == ("not_admitted", "no_show")
    assert inquiry.status_changes.last().changed_by is None


def test_the_database_holds_the_state_machine_and_the_history(clinic, admissions):
    inquiry = InquiryFactory(clinic=clinic, actor=admissions)

    with pytest.raises(IntegrityError), transaction.atomic():
        type(inquiry).objects.filter(pk=inquiry.pk).update(status="verifying")
    with pytest.raises(IntegrityError), transaction.atomic():
        InquiryStatusChange.objects.filter(inquiry=inquiry).delete()


def test_a_new_clinic_starts_with_the_default_referral_sources_once(clinic):
    kinds = sorted(ReferralSource.objects.filter(clinic=clinic).values_list("kind", flat=True))

    inquiries.referral_sources_seed(clinic)

    assert kinds == sorted(kind for _, kind in inquiries.DEFAULT_REFERRAL_SOURCES)
    assert ReferralSource.objects.filter(clinic=clinic).count() == 7


def test_an_open_inquiry_is_overdue_past_its_next_contact_or_a_day_after_it_came_in(
    frozen_time, clinic, admissions
):
    """Tuesday 1 December in New York (10:00): each case by hand."""
    from django.contrib.auth import get_user_model

    from programs import selectors

    def inquiry(received_days_ago, next_contact_on=None):
        return take_call(
            admissions,
            clinic,
            first_name=f"P{received_days_ago}{next_contact_on}",
            received_at=TUESDAY_10AM - datetime.timedelta(days=received_days_ago),
            next_contact_on=next_contact_on,
        )

    today_no_date = inquiry(0)
    # Monday 23:30 in New York is Tuesday 04:30 UTC: received yesterday, local time.
    late_yesterday = take_call(
        admissions,
        clinic,
        first_name="Late",
        received_at=datetime.datetime(2026, 12, 1, 4, 30, tzinfo=datetime.UTC),
    )
    due_today = inquiry(3, datetime.date(2026, 12, 1))
    past_due = inquiry(3, datetime.date(2026, 11, 30))
    user = get_user_model().objects.get(pk=admissions.pk)

    overdue = set(
        selectors.inquiry_list(user=user, overdue=True, now=TUESDAY_10AM).values_list(
            "pk", flat=True
        )
    )

    assert overdue == {late_yesterday.pk, past_due.pk}
    assert today_no_date.pk not in overdue
    assert due_today.pk not in overdue
