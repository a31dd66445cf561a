"""The census: places per program and day, by hand and against the rule, its default range, its
filters and its validation."""

import datetime
import random

import pytest
import time_machine

from patients.models import Level
from programs import reports
from programs.models import Enrollment, EnrollmentStatus
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, staff_user
from tests.programs.reports.helpers import CENSUS, NOW, TODAY, admit, bulk_patients, day, discharge

pytestmark = pytest.mark.django_db


# Census: the numbers ------------------------------------------------------------------------------


def test_census_by_hand(client_for, admissions, clinic):
    # given: three beds; A in since 11-20, B from 11-25 until a discharge on 12-03, C admitted
    # from tomorrow, D waiting for a place from today
    house = ProgramFactory(clinic=clinic, name="Census House", capacity=3, min_stay_days=None)
    a, b, c, d = (
        PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=name,
            last_name="Census",
            date_of_birth=datetime.date(1988, 3, 4),
        )
        for name in ("Amy", "Bo", "Cy", "Di")
    )
    services.enrollment_create(
        actor=admissions, patient=a, program=house, start_date=day("2026-11-20")
    )
    stay_b = services.enrollment_create(
        actor=admissions, patient=b, program=house, start_date=day("2026-11-25")
    )
    services.enrollment_create(
        actor=admissions, patient=c, program=house, start_date=day("2026-12-02")
    )
    waiting = services.enrollment_create(
        actor=admissions, patient=d, program=house, start_date=TODAY, waitlist=True
    )
    services.enrollment_discharge(
        actor=admissions, enrollment=stay_b, date=day("2026-12-03"), reason="completed"
    )
    assert waiting.status == EnrollmentStatus.WAITLISTED

    # when
    response = client_for(admissions).get(
        CENSUS, {"start": "2026-11-24", "end": "2026-12-04", "program": house.pk}
    )

    # then: past days count no waitlist (its history is not kept); B's place is free on the 3rd
    assert response.status_code == 200, response.json()
    (row,) = response.json()["results"]
    assert row["program"] == {
        "id": house.pk,
        "name": "Census House",
        "level": "residential",
        "track": "",
    }
    # (no offer is held: B's discharge frees no place from today on, C takes it on the 2nd)
    expected = [
        # date,       capacity, admitted, reserved, waitlisted, held, free
        ("2026-11-24", 3, 1, 0, 0, 0, 2),
        ("2026-11-25", 3, 2, 0, 0, 0, 1),
        ("2026-11-26", 3, 2, 0, 0, 0, 1),
        ("2026-11-27", 3, 2, 0, 0, 0, 1),
        ("2026-11-28", 3, 2, 0, 0, 0, 1),
        ("2026-11-29", 3, 2, 0, 0, 0, 1),
        ("2026-11-30", 3, 2, 0, 0, 0, 1),
        ("2026-12-01", 3, 2, 0, 1, 0, 1),
        ("2026-12-02", 3, 2, 1, 1, 0, 0),
        ("2026-12-03", 3, 1, 1, 1, 0, 1),
        ("2026-12-04", 3, 1, 1, 1, 0, 1),
    ]
    keys = ("date", "capacity", "admitted", "reserved", "waitlisted", "held", "free")
    # (no authorization or review here: test_authorization_columns counts those)
    none_authorized = {"authorized": 0, "authorized_below_level": 0, "reviews_due": 0}
    assert row["days"] == [
        {**dict(zip(keys, values, strict=True)), **none_authorized} for values in expected
    ]


def test_census_agrees_with_enrollment_is_active_on(admissions, clinic):
    # given: a mix of stays, discharges, future admissions, waitlist requests and cancellations
    rng = random.Random(20261201)
    program = ProgramFactory(clinic=clinic, name="Mixed", level=Level.OUTPATIENT, capacity=12)
    enrollments = []
    for patient in bulk_patients(clinic, 40):
        start = TODAY + datetime.timedelta(days=rng.randint(-80, 60))
        kind = rng.choice(["admitted", "discharged", "waitlisted", "cancelled"])
        status = EnrollmentStatus.WAITLISTED if kind in ("waitlisted", "cancelled") else "admitted"
        # Some waitlisted patients hold an offer, live or lapsed.
        offer_expires_at = (
            NOW + datetime.timedelta(hours=rng.choice([-5, 5]))
            if kind == "waitlisted" and rng.random() < 0.5
            else None
        )
        enrollment = admit(
            patient,
            program,
            start,
            status=status,
            offered_at=offer_expires_at and NOW - datetime.timedelta(hours=43),
            offer_expires_at=offer_expires_at,
        )
        if kind == "discharged":
            discharge(enrollment, start + datetime.timedelta(days=rng.randint(0, 40)))
        elif kind == "cancelled":
            Enrollment.objects.filter(pk=enrollment.pk).update(status="cancelled")
        enrollments.append(enrollment)
    enrollments = list(Enrollment.objects.filter(program=program))
    start, end = TODAY - datetime.timedelta(days=45), TODAY + datetime.timedelta(days=46)

    # when
    (row,) = reports.census(user=admissions, start=start, end=end, programs_queryset=[program])

    # then
    assert len(row["days"]) == reports.CENSUS_MAX_DAYS
    assert any(entry["held"] for entry in row["days"])  # the mix holds live offers
    for entry in row["days"]:
        on = entry["date"]
        occupying = [e for e in enrollments if e.is_active_on(on)]
        admitted = sum(1 for e in occupying if e.start_date <= TODAY)
        reserved = sum(1 for e in occupying if e.start_date > TODAY)
        waitlisted = (
            sum(1 for e in enrollments if e.status == "waitlisted" and e.start_date <= on)
            if on >= TODAY
            else 0
        )
        held = (
            sum(
                1
                for e in enrollments
                if e.status == "waitlisted" and e.offer_expires_at and e.offer_expires_at > NOW
            )
            if on >= TODAY
            else 0
        )
        assert entry == {
            "date": on,
            "capacity": 12,
            "admitted": admitted,
            "reserved": reserved,
            "waitlisted": waitlisted,
            "held": held,
            "free": max(12 - admitted - reserved - held, 0),
            # no authorization or review here
            "authorized": 0,
            "authorized_below_level": 0,
            "reviews_due": 0,
        }


def test_census_defaults_to_thirty_days_from_today(client_for, clinician, clinic):
    ProgramFactory(clinic=clinic, name="House", capacity=10)

    body = client_for(clinician).get(CENSUS).json()

    days = [entry["date"] for entry in body["results"][0]["days"]]
    assert (days[0], days[-1], len(days)) == ("2026-12-01", "2026-12-30", 30)


def test_census_today_is_the_clinics_local_date(client_for, clinician, clinic):
    # 03:00 UTC on 12-01 is still 11-30 in New York
    house = ProgramFactory(clinic=clinic, name="House", capacity=2)
    waiting = bulk_patients(clinic, 1)[0]
    admit(waiting, house, day("2026-11-30"), status=EnrollmentStatus.WAITLISTED)

    with time_machine.travel(datetime.datetime(2026, 12, 1, 3, tzinfo=datetime.UTC), tick=False):
        body = client_for(clinician).get(CENSUS).json()

    first = body["results"][0]["days"][0]
    assert (first["date"], first["waitlisted"]) == ("2026-11-30", 1)


def test_census_filters_by_level_and_clinic(client_for, clinic, other_clinic):
    user = staff_user(role="supervisor", clinics=[clinic, other_clinic])
    house = ProgramFactory(clinic=clinic, name="House", capacity=10)
    iop = ProgramFactory(
        clinic=clinic, name="Evenings", level=Level.IOP, track="evening", capacity=10
    )
    elsewhere = ProgramFactory(clinic=other_clinic, name="Elsewhere", capacity=10)
    client = client_for(user)

    def ids(**params):
        results = client.get(CENSUS, {"end": "2026-12-02", **params}).json()["results"]
        return [row["program"]["id"] for row in results]

    assert set(ids()) == {house.pk, iop.pk, elsewhere.pk}
    assert ids(level="iop") == [iop.pk]
    assert ids(clinic=other_clinic.pk) == [elsewhere.pk]
    assert ids(program=house.pk) == [house.pk]


# Census: validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-12-10", "end": "2026-12-09"}, "end"),
        ({"start": "2026-12-01", "end": "2027-03-03"}, "end"),  # 93 days
        ({"start": "2026-13-01"}, "start"),
        ({"level": "detox"}, "level"),
    ],
)
def test_census_rejects_a_bad_range(client_for, clinician, clinic, params, field):
    response = client_for(clinician).get(CENSUS, params)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail", "fields"}
    assert list(body["fields"]) == [field]


def test_census_allows_ninety_two_days(client_for, clinician, clinic):
    ProgramFactory(clinic=clinic, name="House", capacity=10)

    response = client_for(clinician).get(CENSUS, {"start": "2026-12-01", "end": "2027-03-02"})

    assert response.status_code == 200
    assert len(response.json()["results"][0]["days"]) == 92


def test_census_end_alone_in_the_past_gives_the_thirty_days_before_it(
    client_for, clinician, clinic
):
    ProgramFactory(clinic=clinic, name="House", capacity=10)

    days = client_for(clinician).get(CENSUS, {"end": "2026-11-10"}).json()["results"][0]["days"]

    assert (days[0]["date"], days[-1]["date"]) == ("2026-10-12", "2026-11-10")
