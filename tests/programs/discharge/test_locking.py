"""The clinician's text is written on a draft only, signed by clinical staff of the clinic once
complete, then locked (the database refuses too); corrections are signed addenda."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InternalError, transaction

from clinic.errors import Conflict, PreconditionFailed
from programs.models import DischargeSummary, DischargeSummaryAddendum
from programs.services import discharge_summaries as services
from tests.factories import staff_user
from tests.programs.discharge.helpers import complete

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 18, 15, tzinfo=datetime.UTC)
DB_REFUSALS = (IntegrityError, InternalError)


def test_the_clinician_writes_the_draft(episode, clinician):
    summary = services.discharge_summary_update(
        episode.summary,
        actor=clinician,
        data={"course_of_treatment": "  Ten days residential.  ", "staff_notes": "Private."},
    )

    summary.refresh_from_db()
    assert (summary.course_of_treatment, summary.staff_notes) == (
        "Ten days residential.",
        "Private.",
    )
    assert summary.version == episode.summary.version + 1


def test_a_facts_field_cannot_be_written(episode, clinician):
    with pytest.raises(ValidationError) as error:
        services.discharge_summary_update(
            episode.summary, actor=clinician, data={"discharge_reason": "ama"}
        )
    assert "discharge_reason" in error.value.message_dict


def test_a_stale_version_is_refused(episode, clinician):
    read = episode.summary.version
    complete(episode.summary, clinician)

    with pytest.raises(PreconditionFailed):
        services.discharge_summary_update(
            episode.summary, actor=clinician, data={"instructions": "Call us."}, version=[read]
        )


def test_signing_needs_the_course_and_the_condition(episode, clinician):
    with pytest.raises(ValidationError) as error:
        services.discharge_summary_sign(episode.summary, actor=clinician, now=NOW)

    assert set(error.value.message_dict) == {"course_of_treatment", "condition_at_discharge"}
    episode.summary.refresh_from_db()
    assert episode.summary.signed_at is None


@pytest.mark.parametrize("role", ["admissions", "utilization_review", "alumni_coordinator"])
def test_only_clinical_staff_sign(episode, clinician, clinic, role):
    complete(episode.summary, clinician)

    with pytest.raises(PermissionDenied):
        services.discharge_summary_sign(
            episode.summary, actor=staff_user(role=role, clinics=[clinic]), now=NOW
        )


def test_a_clinician_of_another_clinic_does_not_sign(episode, clinician, other_clinic):
    complete(episode.summary, clinician)

    with pytest.raises(PermissionDenied):
        services.discharge_summary_sign(
            episode.summary,
            actor=staff_user(role="clinician", clinics=[other_clinic]),
            now=NOW,
        )


def test_a_supervisor_signs(episode, clinician, supervisor):
    complete(episode.summary, clinician)

    summary = services.discharge_summary_sign(episode.summary, actor=supervisor, now=NOW)

    assert (summary.signed_by, summary.signed_at) == (supervisor, NOW)


def test_a_signed_summary_no_longer_changes(signed, clinician):
    with pytest.raises(Conflict) as error:
        services.discharge_summary_update(signed, actor=clinician, data={"instructions": "X"})
    assert error.value.code == "summary_signed"

    with pytest.raises(Conflict):
        services.discharge_summary_sign(signed, actor=clinician, now=NOW)


def test_the_database_refuses_to_change_a_signed_summary(signed):
    with pytest.raises(DB_REFUSALS, match="signed"), transaction.atomic():
        DischargeSummary.objects.filter(pk=signed.pk).update(staff_notes="rewritten")

    signed.refresh_from_db()
    assert signed.staff_notes == "Watch the brother's visits."


def test_the_database_never_deletes_a_summary(episode, signed):
    with pytest.raises(DB_REFUSALS, match="never deleted"), transaction.atomic():
        DischargeSummary.objects.filter(pk=signed.pk).delete()

    assert DischargeSummary.objects.filter(pk=signed.pk).exists()


def test_an_addendum_goes_to_a_signed_summary(signed, supervisor):
    addendum = services.discharge_summary_addendum_add(
        signed, actor=supervisor, text=" Medication changed on the 20th. ", now=NOW
    )

    assert (addendum.text, addendum.signed_by, addendum.signed_at) == (
        "Medication changed on the 20th.",
        supervisor,
        NOW,
    )
    with pytest.raises(DB_REFUSALS), transaction.atomic():
        DischargeSummaryAddendum.objects.filter(pk=addendum.pk).update(text="other")


def test_no_addendum_to_a_draft(episode, clinician):
    with pytest.raises(Conflict) as error:
        services.discharge_summary_addendum_add(
            episode.summary, actor=clinician, text="Too early.", now=NOW
        )
    assert error.value.code == "summary_not_signed"
    assert not DischargeSummaryAddendum.objects.exists()


def test_an_addendum_needs_its_text(signed, clinician):
    with pytest.raises(ValidationError):
        services.discharge_summary_addendum_add(signed, actor=clinician, text="   ", now=NOW)
