"""Waitlist offers (issue 18, item 2): every lapsed patient gets another turn, each offer is a
record that alerts admissions and tells the patient, and one count of free places serves the
programs list and the admission service."""

import datetime

import pytest
import time_machine
from django.core import mail

from clinic.models import AlertDelivery, StaffAlert
from clinic.notifications import backends
from programs.models import Enrollment, WaitlistOffer
from programs.services import enrollments as services
from programs.tasks import waitlist_expire_offers_task, waitlist_offer_notices_send_task
from tests.factories import (
    PatientFactory,
    ProgramFactory,
    app_account,
    client_of,
)

pytestmark = pytest.mark.django_db

# 2026-12-01 10:00 in New York (the test clinic's zone): outside SMS quiet hours.
NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 12, 1)
HOLD = datetime.timedelta(hours=48)  # a program's default waitlist_offer_hours
TREATMENT_WORDS = ("treatment", "residential", "rehab", "recovery", "detox", "program", "place")


def at(delta: datetime.timedelta = datetime.timedelta(0)):
    return time_machine.travel(NOW + delta, tick=False)


def expiry_pass(delta: datetime.timedelta) -> int:
    with at(delta):
        return waitlist_expire_offers_task()


def waitlist(admissions, program, patient, **extra):
    with at():
        return services.enrollment_create(
            actor=admissions,
            patient=patient,
            program=program,
            start_date=TODAY,
            waitlist=True,
            **extra,
        )


def open_offer_holders(program) -> list[Enrollment]:
    return [
        offer.enrollment
        for offer in WaitlistOffer.objects.filter(enrollment__program=program, outcome="open")
    ]


@pytest.fixture
def one_bed(clinic):
    return ProgramFactory(
        clinic=clinic, level="residential", capacity=1, name="Harbor Residential Detox"
    )


@pytest.fixture
def present(admissions, clinic, one_bed):
    """The patient in the one bed, admitted today."""
    with at():
        return services.enrollment_create(
            actor=admissions,
            patient=PatientFactory(clinic=clinic, actor=admissions, first_name="Present"),
            program=one_bed,
            start_date=TODAY,
        )


def discharge(admissions, stay):
    with at():
        services.enrollment_discharge(
            actor=admissions, enrollment=stay, date=TODAY, reason="completed"
        )


# Every lapsed patient gets another turn -----------------------------------------------------------


def test_a_passed_over_patient_is_offered_again_when_their_turn_comes(
    admissions, clinic, one_bed, present
):
    # given: two waiting; the first is offered the freed bed
    bea = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    )
    cal = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Cal")
    )
    discharge(admissions, present)
    assert open_offer_holders(one_bed) == [bea]

    # when: Bea's offer lapses, then a new patient joins, then each offer lapses in turn
    offered = [bea]
    assert expiry_pass(HOLD + datetime.timedelta(hours=1)) == 1
    offered += open_offer_holders(one_bed)
    with at(HOLD + datetime.timedelta(hours=2)):
        dee = services.enrollment_create(
            actor=admissions,
            patient=PatientFactory(clinic=clinic, actor=admissions, first_name="Dee"),
            program=one_bed,
            start_date=TODAY,
            waitlist=True,
        )
    for lapse in range(2, 5):
        assert expiry_pass(lapse * HOLD + datetime.timedelta(hours=1)) == 1
        offered += open_offer_holders(one_bed)

    # then: the passed-over go behind those never passed over (Dee before Bea), and among
    # themselves take turns by their last offer: Bea, who lapsed first, before Cal
    assert offered == [bea, cal, dee, bea, cal]
    assert WaitlistOffer.objects.filter(enrollment=bea).count() == 2
    assert list(
        WaitlistOffer.objects.filter(enrollment=bea)
        .order_by("id")
        .values_list("outcome", flat=True)
    ) == ["lapsed", "lapsed"]
    # Cal holds the offer now; when it lapses, Dee's turn comes, then Bea's
    assert list(services.waitlist_queue(one_bed)) == [dee, bea, cal]


def test_a_lone_lapsed_patient_is_offered_again_on_the_next_pass(
    admissions, clinic, one_bed, present
):
    # given: one patient waiting, offered the freed bed
    bea = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    )
    discharge(admissions, present)

    # when: the offer lapses; no one else waits
    assert expiry_pass(HOLD + datetime.timedelta(minutes=1)) == 1

    # then: not re-offered in the pass that lapsed it (staff see the lapse)...
    assert open_offer_holders(one_bed) == []
    bea.refresh_from_db()
    assert (bea.passed_over, bea.offer_expires_at) == (True, None)

    # ...but on the next pass the bed is offered to her again: it never sits unoffered
    assert expiry_pass(HOLD + datetime.timedelta(minutes=6)) == 0
    assert open_offer_holders(one_bed) == [bea]
    bea.refresh_from_db()
    assert bea.offer_expires_at == NOW + HOLD + datetime.timedelta(minutes=6) + HOLD
    # and a pass run again changes nothing
    assert expiry_pass(HOLD + datetime.timedelta(minutes=7)) == 0
    assert WaitlistOffer.objects.filter(enrollment=bea).count() == 2


def test_a_re_offer_alerts_admissions_again(admissions, clinic, one_bed, present):
    bea = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    )
    discharge(admissions, present)
    expiry_pass(HOLD + datetime.timedelta(minutes=1))
    expiry_pass(HOLD + datetime.timedelta(minutes=6))

    first, second = WaitlistOffer.objects.filter(enrollment=bea).order_by("id")
    alerts = StaffAlert.objects.filter(kind="waitlist_offer").order_by("id")
    assert [(a.object_type, a.object_id) for a in alerts] == [
        ("programs.waitlistoffer", str(first.pk)),
        ("programs.waitlistoffer", str(second.pk)),
    ]
    assert {(a.recipient_role, a.patient_id) for a in alerts} == {("admissions", bea.patient_id)}
    # each alert e-mails admissions once
    assert AlertDelivery.objects.filter(recipient=admissions).count() == 2


def test_a_cancelled_patient_withdraws_their_offer_and_the_place_goes_on(
    admissions, clinic, one_bed, present
):
    bea = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    )
    cal = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Cal")
    )
    discharge(admissions, present)

    with at(datetime.timedelta(hours=1)):
        services.enrollment_cancel(actor=admissions, enrollment=bea)

    assert WaitlistOffer.objects.get(enrollment=bea).outcome == "withdrawn"
    assert open_offer_holders(one_bed) == [cal]


# The patient is told ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contact", "channel"),
    [
        ({"email": "bea@example.org", "reminder_channels": ["email", "sms"]}, "email"),
        ({"phone": "+12025550123", "reminder_channels": ["sms"]}, "sms"),
    ],
)
def test_the_patient_gets_one_neutral_notice_even_if_the_task_runs_twice(
    admissions, clinic, one_bed, present, contact, channel
):
    contact = {"phone": "+12025550123", **contact}
    bea = waitlist(
        admissions,
        one_bed,
        PatientFactory(clinic=clinic, actor=admissions, first_name="Bea", **contact),
    )
    discharge(admissions, present)
    mail.outbox.clear()  # the staff alerts' e-mails are another outbox's

    with at(datetime.timedelta(minutes=1)):
        first = waitlist_offer_notices_send_task()
        second = waitlist_offer_notices_send_task()

    assert (first, second) == ({"sent": 1}, {})
    texts = [m.body for m in mail.outbox] + [m.text for m in backends.sms_outbox()]
    assert len(texts) == 1
    [text] = texts
    assert clinic.public_name in text
    assert "call" in text
    for word in (*TREATMENT_WORDS, one_bed.name.lower(), clinic.name.lower()):
        assert word not in text.lower()
    if channel == "email":
        [message] = mail.outbox
        assert message.to == ["bea@example.org"]
        assert clinic.public_name in message.subject
        assert not any(word in message.subject.lower() for word in TREATMENT_WORDS)
    else:
        [sms] = backends.sms_outbox()
        assert sms.to == "+12025550123"
    offer = WaitlistOffer.objects.get(enrollment=bea)
    assert (offer.channel, offer.notice_status, offer.attempts) == (channel, "sent", 1)
    assert offer.sent_at == NOW + datetime.timedelta(minutes=1)
    assert offer.provider_message_id


def test_a_patient_without_a_consented_channel_gets_a_skipped_notice(
    admissions, clinic, one_bed, present
):
    bea = waitlist(
        admissions,
        one_bed,
        PatientFactory(clinic=clinic, actor=admissions, first_name="Bea", email="bea@example.org"),
    )  # an address on file, but no consent to be contacted
    discharge(admissions, present)
    mail.outbox.clear()

    with at(datetime.timedelta(minutes=1)):
        assert waitlist_offer_notices_send_task() == {}

    offer = WaitlistOffer.objects.get(enrollment=bea)
    assert (offer.channel, offer.notice_status) == ("", "skipped")
    assert mail.outbox == []
    assert backends.sms_outbox() == []
    assert (
        "call them"
        in StaffAlert.objects.get(
            object_type="programs.waitlistoffer", object_id=str(offer.pk)
        ).message
    )


def test_a_notice_is_skipped_when_the_offer_closed_before_it_went_out(
    admissions, clinic, one_bed, present
):
    bea = waitlist(
        admissions,
        one_bed,
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name="Bea",
            email="b@example.org",
            reminder_channels=["email"],
        ),
    )
    discharge(admissions, present)
    with at():
        services.enrollment_admit(actor=admissions, enrollment=bea)
    mail.outbox.clear()

    with at(datetime.timedelta(minutes=1)):
        assert waitlist_offer_notices_send_task() == {"skipped": 1}

    assert mail.outbox == []
    offer = WaitlistOffer.objects.get(enrollment=bea)
    assert (offer.outcome, offer.notice_status) == ("accepted", "skipped")


# What the API shows -------------------------------------------------------------------------------


def test_me_enrollments_shows_the_live_offer_and_its_expiry_not_a_lapsed_one(
    admissions, clinic, one_bed, present
):
    patient = PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    bea = waitlist(admissions, one_bed, patient)
    app = client_of(app_account(patient))
    discharge(admissions, present)

    with at(datetime.timedelta(hours=1)):
        [row] = app.get("/api/v1/me/enrollments/").json()["results"]
    expires = (NOW + HOLD).isoformat().replace("+00:00", "Z")
    assert (row["id"], row["status"]) == (bea.pk, "waitlisted")
    assert row["offer_expires_at"] == expires
    assert row["offer"] == {
        "offered_at": NOW.isoformat().replace("+00:00", "Z"),
        "expires_at": expires,
    }

    # past its expiry, before and after the pass lapses it: no offer
    with at(HOLD + datetime.timedelta(seconds=1)):
        [row] = app.get("/api/v1/me/enrollments/").json()["results"]
    assert (row["offer"], row["offer_expires_at"]) == (None, None)
    expiry_pass(HOLD + datetime.timedelta(minutes=1))
    with at(HOLD + datetime.timedelta(minutes=2)):
        [row] = app.get("/api/v1/me/enrollments/").json()["results"]
    assert (row["offer"], row["offer_expires_at"]) == (None, None)


def test_staff_see_an_enrollments_offers_newest_first(
    client_for, admissions, clinic, one_bed, present
):
    bea = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    )
    discharge(admissions, present)
    expiry_pass(HOLD + datetime.timedelta(minutes=1))
    expiry_pass(HOLD + datetime.timedelta(minutes=6))

    with at(HOLD + datetime.timedelta(minutes=7)):
        body = client_for(admissions).get(f"/api/v1/enrollments/{bea.pk}/").json()

    renewed = NOW + HOLD + datetime.timedelta(minutes=6)
    assert body["offered_at"] == renewed.isoformat().replace("+00:00", "Z")
    assert [(o["outcome"], o["notice_status"]) for o in body["offers"]] == [
        ("open", "skipped"),
        ("lapsed", "skipped"),
    ]


def test_the_programs_list_the_census_and_admissions_agree_on_a_held_place(
    client_for, admissions, clinic, one_bed, present
):
    # given: one bed, freed by a discharge and held for Bea's offer
    bea = waitlist(
        admissions, one_bed, PatientFactory(clinic=clinic, actor=admissions, first_name="Bea")
    )
    walk_in = PatientFactory(clinic=clinic, actor=admissions, first_name="Walkin")
    discharge(admissions, present)
    client = client_for(admissions)

    with at(datetime.timedelta(hours=1)):
        listed = client.get("/api/v1/programs/").json()["results"]
        census = client.get("/api/v1/reports/census/", {"end": TODAY.isoformat()}).json()
        refused = client.post(
            "/api/v1/enrollments/",
            {"patient": walk_in.pk, "program": one_bed.pk, "start_date": TODAY.isoformat()},
            format="json",
        )
        admitted = client.post(f"/api/v1/enrollments/{bea.pk}/admit/", {}, format="json")
        listed_after = client.get("/api/v1/programs/").json()["results"]

    # then: the list and the census count the held offer as taken, and so does the service...
    assert [(row["id"], row["free_places"]) for row in listed] == [(one_bed.pk, 0)]
    [census_today] = census["results"][0]["days"]
    assert (census_today["held"], census_today["free"]) == (1, 0)
    assert (refused.status_code, refused.json()["code"]) == (409, "program_full")
    # ...except for the offered patient, whose held place is theirs
    assert (admitted.status_code, admitted.json()["status"]) == (200, "admitted")
    assert WaitlistOffer.objects.get(enrollment=bea).outcome == "accepted"
    assert [(row["active_count"], row["free_places"]) for row in listed_after] == [(1, 0)]
