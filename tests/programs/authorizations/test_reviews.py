"""Reviews of an authorization with the payer: scheduling one sets the next review date;
recording its outcome updates the authorization in the same transaction (more units, a denial
with the payer's level, or information pending), and an appeal turns a denial around."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from clinic.errors import Conflict
from clinic.models import AuditEvent
from programs.models import ConcurrentReview
from programs.services import authorizations
from tests.factories import AuthorizationFactory, EnrollmentFactory, ProgramFactory

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


@pytest.fixture
def approved(clinic, admissions):
    """14 residential days approved from the stay's start (the clinic's today)."""
    stay = EnrollmentFactory(program=ProgramFactory(clinic=clinic, level="residential"))
    return AuthorizationFactory(enrollment=stay, approved=True, actor=admissions)


def schedule(authorization, actor, *, kind="concurrent", days=5) -> ConcurrentReview:
    return authorizations.review_schedule(
        actor=actor,
        authorization=authorization,
        kind=kind,
        scheduled_on=authorization.start_date + days * DAY,
        reviewer="Dr. Payer",
    )


def test_a_scheduled_review_sets_the_next_review_date(approved, admissions):
    review = schedule(approved, admissions, days=9)
    schedule(approved, admissions, days=12)
    approved.refresh_from_db()
    assert approved.next_review_on == review.scheduled_on
    assert (review.done_on, review.outcome) == (None, "")


def test_a_recorded_review_leaves_the_next_booked_one_as_the_next_review(approved, admissions):
    first = schedule(approved, admissions, days=3)
    second = schedule(approved, admissions, days=8)
    authorizations.review_record(
        actor=admissions, review=first, outcome="pending_information", done_on=first.scheduled_on
    )
    approved.refresh_from_db()
    assert approved.next_review_on == second.scheduled_on

    authorizations.review_record(
        actor=admissions, review=second, outcome="pending_information", done_on=second.scheduled_on
    )
    approved.refresh_from_db()
    assert approved.next_review_on is None


def test_more_units_approved_extend_the_authorization(approved, admissions):
    # given
    review = schedule(approved, admissions)
    new_end = approved.end_date + 7 * DAY

    # when
    done = authorizations.review_record(
        actor=admissions,
        review=review,
        outcome="approved_more",
        done_on=review.scheduled_on,
        units_added=7,
        end_date=new_end,
        next_review_on=review.scheduled_on + 7 * DAY,
    )

    # then: 21 approved through the new end, next review in a week, both rows audited
    approved.refresh_from_db()
    assert (
        approved.status,
        approved.units_requested,
        approved.units_approved,
        approved.end_date,
        approved.next_review_on,
        approved.version,
    ) == ("approved", 21, 21, new_end, review.scheduled_on + 7 * DAY, 4)
    assert (done.outcome, done.units_added, done.recorded_by) == ("approved_more", 7, admissions)
    assert set(
        AuditEvent.objects.filter(action="update").values_list("object_type", flat=True)
    ) >= {"programs.concurrentreview", "programs.authorization"}


def test_a_denial_carries_the_payer_s_level_and_an_appeal_turns_it_around(approved, admissions):
    # given: a concurrent review denied, the payer seeing the patient at IOP
    review = schedule(approved, admissions)
    authorizations.review_record(
        actor=admissions,
        review=review,
        outcome="denied",
        done_on=review.scheduled_on,
        payer_recommended_level="iop",
    )
    approved.refresh_from_db()
    assert (approved.status, approved.units_approved, approved.next_review_on) == (
        "denied",
        14,
        None,
    )
    review.refresh_from_db()
    assert review.payer_recommended_level == "iop"

    # when: more units through a concurrent review are refused; an appeal wins 5 more days
    concurrent = schedule(approved, admissions, days=6)
    with pytest.raises(Conflict):
        authorizations.review_record(
            actor=admissions,
            review=concurrent,
            outcome="approved_more",
            done_on=concurrent.scheduled_on,
            units_added=5,
        )
    appeal = schedule(approved, admissions, kind="appeal", days=7)
    authorizations.review_record(
        actor=admissions,
        review=appeal,
        outcome="approved_more",
        done_on=appeal.scheduled_on,
        units_added=5,
    )

    # then
    approved.refresh_from_db()
    assert (approved.status, approved.units_approved) == ("approved", 19)


def test_pending_information_leaves_the_units_and_moves_the_next_review(approved, admissions):
    review = schedule(approved, admissions)
    authorizations.review_record(
        actor=admissions,
        review=review,
        outcome="pending_information",
        done_on=review.scheduled_on,
        next_review_on=review.scheduled_on + 2 * DAY,
    )
    approved.refresh_from_db()
    assert (approved.status, approved.units_approved, approved.next_review_on) == (
        "approved",
        14,
        review.scheduled_on + 2 * DAY,
    )


def test_an_appeal_is_only_of_a_denial(approved, admissions):
    with pytest.raises(Conflict):
        schedule(approved, admissions, kind="appeal")


@pytest.mark.parametrize(
    ("outcome", "extra", "field"),
    [
        ("approved_more", {}, "units_added"),
        ("approved_more", {"units_added": 0}, "units_added"),
        ("denied", {"units_added": 3}, "units_added"),
        ("pending_information", {"payer_recommended_level": "iop"}, "payer_recommended_level"),
        ("pending_information", {"end_date": datetime.date(2027, 1, 1)}, "end_date"),
        ("maybe", {}, "outcome"),
    ],
)
def test_an_outcome_that_does_not_add_up_changes_nothing(
    approved, admissions, outcome, extra, field
):
    review = schedule(approved, admissions)
    with pytest.raises(ValidationError) as refused:
        authorizations.review_record(
            actor=admissions, review=review, outcome=outcome, done_on=review.scheduled_on, **extra
        )
    assert field in refused.value.message_dict
    review.refresh_from_db()
    approved.refresh_from_db()
    assert (review.outcome, approved.units_approved, approved.version) == ("", 14, 3)


def test_an_outcome_is_recorded_once(approved, admissions):
    review = schedule(approved, admissions)
    kwargs = {"outcome": "pending_information", "done_on": review.scheduled_on}
    authorizations.review_record(actor=admissions, review=review, **kwargs)
    with pytest.raises(Conflict) as refused:
        authorizations.review_record(actor=admissions, review=review, **kwargs)
    assert refused.value.code == "review_done"


def test_the_database_holds_a_review_s_outcome_together(approved, admissions):
    review = schedule(approved, admissions)
    rows = ConcurrentReview.objects.filter(pk=review.pk)
    for update, constraint in [
        ({"outcome": "denied"}, "review_outcome_iff_done"),
        ({"done_on": review.scheduled_on}, "review_outcome_iff_done"),
        ({"units_added": 3}, "review_units_added_iff_approved_more"),
        ({"payer_recommended_level": "iop"}, "review_payer_level_only_on_denial"),
    ]:
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            rows.update(**update)
