"""The beat moves authorizations on (``programs.services.utilization.authorizations_settle``):
``exhausted`` when an authorization in force has used all its units as of the clinic's today,
``expired`` once its end date is past (a request the payer never answered too); denials and
exhausted ones stay. Each move is audited with no actor (the system) and made once."""

import datetime

import pytest

from clinic.errors import Conflict
from clinic.models import AuditEvent
from programs.models import Authorization
from programs.services import authorizations
from programs.services.utilization import authorizations_settle
from tests.conftest import TUESDAY_10AM
from tests.programs.authorizations.conftest import dec

pytestmark = pytest.mark.django_db

WEDNESDAY = TUESDAY_10AM + datetime.timedelta(days=1)


def status_of(authorization) -> str:
    return Authorization.objects.values_list("status", flat=True).get(pk=authorization.pk)


def test_nothing_moves_while_units_and_days_remain(queue_world):
    assert authorizations_settle(now=TUESDAY_10AM) == {"expired": 0, "exhausted": 0}


def test_an_authorization_whose_units_are_all_used_is_exhausted_once(queue_world):
    # given: 8 days approved from Nov 25; Wednesday Dec 2 is the 8th day present
    low = queue_world.low_authorization

    # when
    first = authorizations_settle(now=WEDNESDAY)
    second = authorizations_settle(now=WEDNESDAY)

    # then
    assert first == {"expired": 0, "exhausted": 1}
    assert second == {"expired": 0, "exhausted": 0}
    assert status_of(low) == "exhausted"
    audits = AuditEvent.objects.filter(
        object_type="programs.authorization", object_id=str(low.pk), action="update"
    ).order_by("-id")
    assert audits.count() == 2  # the approval, then the beat's move
    assert (audits[0].actor_id, audits[0].patient_id) == (None, low.patient_id)


def test_more_units_approved_make_an_exhausted_authorization_approved_again(
    queue_world, admissions
):
    low = queue_world.low_authorization
    authorizations_settle(now=WEDNESDAY)
    review = authorizations.review_schedule(
        actor=admissions, authorization=low, kind="concurrent", scheduled_on=dec(2)
    )

    authorizations.review_record(
        actor=admissions,
        review=review,
        outcome="approved_more",
        done_on=dec(2),
        units_added=5,
        end_date=dec(10),
    )

    low.refresh_from_db()
    assert (low.status, low.units_approved, low.units_requested) == ("approved", 13, 13)
    # 8 of 13 used: the beat leaves it be
    assert authorizations_settle(now=WEDNESDAY)["exhausted"] == 0


def test_authorizations_past_their_end_expire_and_requests_too(queue_world):
    """Friday Dec 4: the one ending Dec 3 expires. Tuesday Dec 9: the request for Nov 25 - Dec
    8 lapses unanswered (no approved units); the denial stays denied; Dec 5's low one ran out
    first (exhausted Dec 2) and stays exhausted."""
    authorizations_settle(now=WEDNESDAY)
    friday = TUESDAY_10AM + datetime.timedelta(days=3)
    assert authorizations_settle(now=friday) == {"expired": 1, "exhausted": 0}
    assert status_of(queue_world.ending_authorization) == "expired"

    later = TUESDAY_10AM + datetime.timedelta(days=8)
    assert authorizations_settle(now=later) == {"expired": 1, "exhausted": 0}

    requested = Authorization.objects.get(enrollment=queue_world.requested)
    assert (requested.status, requested.units_approved) == ("expired", None)
    assert status_of(queue_world.denied_authorization) == "denied"
    assert status_of(queue_world.low_authorization) == "exhausted"
    assert status_of(queue_world.roomy_authorization) == "approved"  # through Dec 24


def test_an_expired_authorization_takes_no_review(queue_world, admissions):
    open_review = authorizations.review_schedule(
        actor=admissions,
        authorization=queue_world.ending_authorization,
        kind="concurrent",
        scheduled_on=dec(3),
    )
    authorizations_settle(now=TUESDAY_10AM + datetime.timedelta(days=3))

    with pytest.raises(Conflict):
        authorizations.review_record(
            actor=admissions, review=open_review, outcome="approved_more", done_on=dec(4)
        )
    with pytest.raises(Conflict):
        authorizations.review_schedule(
            actor=admissions,
            authorization=queue_world.ending_authorization,
            kind="concurrent",
            scheduled_on=dec(5),
        )


def test_a_clinic_ahead_of_utc_settles_by_its_own_date(queue_world, clinic):
    """At 23:00 UTC on Dec 3 it is Dec 3 in New York (Dec 3 authorization in force) and Dec 4
    in Tokyo (past its end)."""
    late = datetime.datetime(2026, 12, 3, 23, tzinfo=datetime.UTC)
    assert authorizations_settle(now=late)["expired"] == 0

    clinic.time_zone = "Asia/Tokyo"
    clinic.save(update_fields=["time_zone"])

    assert authorizations_settle(now=late)["expired"] == 1
    assert status_of(queue_world.ending_authorization) == "expired"
