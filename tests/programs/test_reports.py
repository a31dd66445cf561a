"""Reports: the census (places per program and day) and the step-down board."""

import datetime
import random

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from patients import services as patient_services
from patients.models import Level, Patient
from programs import reports
from programs.models import (
    LEVEL_DEFAULTS,
    Enrollment,
    EnrollmentStatus,
    Program,
    Transition,
)
from programs.services import enrollments as services
from tests.factories import PatientFactory, ProgramFactory, UserFactory, staff_user

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)  # 10:00 in New York
TODAY = datetime.date(2026, 12, 1)
CENSUS = "/api/v1/reports/census/"
STEP_DOWN = "/api/v1/reports/step-down/"
HIGH = {"d1": 3, "d2": 1, "d3": 2, "d4": 2, "d5": 2, "d6": 2}  # recommends residential
LOW = {"d1": 0, "d2": 0, "d3": 1, "d4": 1, "d5": 1, "d6": 0}  # recommends outpatient


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(NOW, tick=False):
        yield


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def bulk_patients(clinic, count):
    return Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"B{i:06d}",
            first_name=f"First{i}",
            last_name=f"Last{i:03d}",
            date_of_birth=datetime.date(1980, 1, 1),
        )
        for i in range(count)
    )


def admit(patient, program, start, *, status=EnrollmentStatus.ADMITTED, **fields):
    """Insert directly (no capacity or back-dating checks); inserts are admitted or waitlisted."""
    return Enrollment.objects.create(
        patient=patient,
        program=program,
        level=program.level,
        status=status,
        start_date=start,
        requested_start_date=start,
        planned_end_date=fields.pop("planned_end_date", start + datetime.timedelta(days=30)),
        **fields,
    )


def discharge(enrollment, on):
    Enrollment.objects.filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.DISCHARGED, discharge_date=on, discharge_reason="completed"
    )


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
    assert row["days"] == [dict(zip(keys, values, strict=True)) for values in expected]


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


# Step-down board ----------------------------------------------------------------------------------


@pytest.fixture
def board(clinic, admissions, clinician):
    """Today is 2026-12-01 in the clinic; see each patient's comment for the flags expected."""
    residential = ProgramFactory(
        clinic=clinic, name="Harbor House", level=Level.RESIDENTIAL, capacity=10
    )  # min stay 28
    iop = ProgramFactory(
        clinic=clinic, name="Evening IOP", level=Level.IOP, track="evening", capacity=10
    )  # min stay 42
    outpatient = ProgramFactory(
        clinic=clinic, name="Outpatient", level=Level.OUTPATIENT, capacity=10
    )  # no minimum
    people = {
        name: PatientFactory(
            clinic=clinic,
            actor=admissions,
            first_name=name,
            last_name=last,
            date_of_birth=datetime.date(1988, 3, 4),
        )
        for name, last in [
            ("Amy", "Adams"),
            ("Ben", "Baker"),
            ("Cid", "Cole"),
            ("Dee", "Diaz"),
            ("Eve", "Evans"),
            ("Fay", "Ford"),
            ("Gus", "Gray"),
        ]
    }

    def enroll(name, program, start, **fields):
        return services.enrollment_create(
            actor=admissions, patient=people[name], program=program, start_date=start, **fields
        )

    def assess(name, dimensions, severity, assessed_at, decided_level=None):
        assessment = patient_services.assessment_create(
            actor=clinician,
            patient=people[name],
            dimensions=dimensions,
            severity=severity,
            assessed_at=assessed_at,
        )
        if decided_level:
            assessment = patient_services.assessment_decide(
                actor=clinician,
                assessment=assessment,
                decided_level=decided_level,
                override_reason="Stable on the unit.",
            )
        return assessment

    def step_down(name, to_program, on):
        source = enroll(name, residential, day("2026-11-05"))
        return services.transition_create(
            actor=clinician,
            enrollment=source,
            to_program=to_program,
            date=on,
            kind="step_down",
            reason="Stable.",
        )

    rows = {}
    # Adams: 11 days of a 28-day minimum; already judged ready for IOP -> not ready yet
    rows["Adams"] = enroll("Amy", residential, day("2026-11-20"))
    assess("Amy", HIGH, "severe", NOW - datetime.timedelta(days=1), decided_level="iop")
    # Baker: 29 days; the latest assessment (by assessed_at, recorded first) decided IOP over
    # a residential recommendation -> ready; an older one recorded later is ignored
    rows["Baker"] = enroll("Ben", residential, day("2026-11-02"))
    rows["Baker latest"] = assess(
        "Ben", HIGH, "severe", NOW - datetime.timedelta(days=3), decided_level="iop"
    )
    assess("Ben", HIGH, "severe", NOW - datetime.timedelta(days=25))
    # Cole: outpatient (no minimum) planned to end 11-25 -> past planned end; still outpatient
    rows["Cole"] = enroll("Cid", outpatient, day("2026-11-01"), planned_end_date=day("2026-11-25"))
    assess("Cid", LOW, "mild", NOW - datetime.timedelta(days=2))
    # Diaz: stepped down 10 days ago, no session since -> gap
    rows["Diaz"] = step_down("Dee", iop, day("2026-11-21")).to_enrollment
    # Evans: stepped down 10 days ago, first session 3 days later -> no gap
    move = step_down("Eve", iop, day("2026-11-21"))
    Transition.objects.filter(pk=move.pk).update(first_session_on=day("2026-11-24"))
    rows["Evans"] = move.to_enrollment
    # Ford: admitted from next week; Gray: waitlisted -> neither is on the board
    enroll("Fay", outpatient, day("2026-12-08"))
    admit(people["Gus"], outpatient, TODAY, status=EnrollmentStatus.WAITLISTED)
    return {"rows": rows, "programs": (residential, iop, outpatient)}


def test_step_down_board_rows_and_flags(client_for, clinician, board):
    residential, iop, _outpatient = board["programs"]
    rows = board["rows"]

    response = client_for(clinician).get(STEP_DOWN)

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    # longest in the program first
    # longest in the program first; equal stays by the latest enrollment first
    assert [r["patient_name"] for r in results] == [
        "Cole, Cid",
        "Baker, Ben",
        "Adams, Amy",
        "Evans, Eve",
        "Diaz, Dee",
    ]
    by_name = {r["patient_name"].split(",")[0]: r for r in results}
    assert by_name["Baker"] == {
        "enrollment": rows["Baker"].pk,
        "patient": rows["Baker"].patient_id,
        "patient_name": "Baker, Ben",
        "program": residential.pk,
        "level": "residential",
        "start_date": "2026-11-02",
        "days_in_program": 29,
        "planned_end_date": "2026-12-02",
        "min_stay_days": 28,
        "min_stay_reached": True,
        "latest_assessment": rows["Baker latest"].pk,
        "latest_recommended_level": "residential",
        "latest_level": "iop",
        "adherence": None,
        "sessions_expected": 0,
        "sessions_attended": 0,
        "no_show_rate": None,
        "hours_this_week": "0.00",
        "weekly_hours_min": None,
        "flags": ["ready_for_step_down"],
    }
    summary = {
        name: (
            row["days_in_program"],
            row["min_stay_reached"],
            row["latest_level"],
            row["flags"],
        )
        for name, row in by_name.items()
    }
    assert summary == {
        "Adams": (11, False, "iop", []),
        "Baker": (29, True, "iop", ["ready_for_step_down"]),
        "Cole": (30, True, "outpatient", ["past_planned_end"]),
        "Diaz": (10, False, None, ["gap_after_transition"]),
        "Evans": (10, False, None, []),
    }
    assert by_name["Cole"]["min_stay_days"] is None
    assert by_name["Diaz"]["program"] == iop.pk
    assert by_name["Diaz"]["latest_assessment"] is None


@pytest.mark.parametrize(
    ("flag", "names"),
    [
        ("ready_for_step_down", ["Baker, Ben"]),
        ("past_planned_end", ["Cole, Cid"]),
        ("gap_after_transition", ["Diaz, Dee"]),
    ],
)
def test_step_down_board_filters_by_flag(client_for, clinician, board, flag, names):
    results = client_for(clinician).get(STEP_DOWN, {"flag": flag}).json()["results"]

    assert [r["patient_name"] for r in results] == names


def test_step_down_board_filters_by_program_and_level(client_for, clinician, board):
    residential, _iop, _outpatient = board["programs"]
    client = client_for(clinician)

    def names(**params):
        return sorted(r["patient_name"] for r in client.get(STEP_DOWN, params).json()["results"])

    assert names(program=residential.pk) == ["Adams, Amy", "Baker, Ben"]
    assert names(level="iop") == ["Diaz, Dee", "Evans, Eve"]
    assert names(ordering="patient_name", level="outpatient") == ["Cole, Cid"]


def test_step_down_board_rejects_an_unknown_flag(client_for, clinician, board):
    response = client_for(clinician).get(STEP_DOWN, {"flag": "sleepy"})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["flag"]


def test_step_down_gap_flag_follows_the_clock(clinician, board):
    # a week after the move, no session yet is still within the target
    flags = {
        row["patient_name"]: row["flags"]
        for row in reports.step_down_board(user=clinician, today=day("2026-11-28"))
    }

    assert flags["Diaz, Dee"] == []


@pytest.mark.parametrize("ordering", list(reports.STEP_DOWN_ORDERINGS))
@pytest.mark.parametrize("flag", [None, *reports.FLAGS])
def test_step_down_pages_are_the_boards_rows(client_for, clinician, board, ordering, flag):
    # The API cuts the page first and annotates its rows after; page by page, the same rows as
    # the whole annotated board in the same order.
    params = {"ordering": ordering, **({"flag": flag} if flag else {})}
    expected = reports.step_down_board(user=clinician, **params)
    client = client_for(clinician)

    shown, page = [], 1
    while True:
        response = client.get(STEP_DOWN, {**params, "page_size": 2, "page": page})
        assert response.status_code == 200, response.json()
        shown += response.json()["results"]
        if response.json()["next"] is None:
            break
        page += 1

    assert [row["enrollment"] for row in shown] == [row["enrollment"] for row in expected]
    assert [row["flags"] for row in shown] == [row["flags"] for row in expected]
    assert expected or flag


@pytest.mark.parametrize("ordering", ["-days_in_program", "days_in_program"])
def test_step_down_pages_by_days_hold_across_time_zones(client_for, clinic, other_clinic, ordering):
    # At 11:00 UTC it is already the 2nd in Kiritimati (UTC+14) and still the 30th at UTC-12:
    # the page cut near the start dates (programs.reports._near_the_first) must allow for it.
    clinic.time_zone = "Etc/GMT+12"
    clinic.save(update_fields=["time_zone"])
    other_clinic.time_zone = "Pacific/Kiritimati"
    other_clinic.save(update_fields=["time_zone"])
    user = staff_user(role="supervisor", clinics=[clinic, other_clinic])
    rng = random.Random(7)
    for place in (clinic, other_clinic):
        program = ProgramFactory(
            clinic=place, name="Outpatient", level=Level.OUTPATIENT, capacity=100
        )
        for patient in bulk_patients(place, 25):
            admit(patient, program, day("2026-11-28") - datetime.timedelta(days=rng.randrange(8)))

    with time_machine.travel(datetime.datetime(2026, 12, 1, 11, tzinfo=datetime.UTC), tick=False):
        expected = [
            row["enrollment"] for row in reports.step_down_board(user=user, ordering=ordering)
        ]
        client = client_for(user)
        for size in (1, 3, 7):
            shown = []
            for page in range(1, 100):
                response = client.get(
                    STEP_DOWN, {"ordering": ordering, "page_size": size, "page": page}
                )
                if response.status_code == 404:
                    break
                shown += [row["enrollment"] for row in response.json()["results"]]
            assert shown == expected, size
    assert len(expected) == 50


def test_step_down_annotates_only_the_page(client_for, supervisor, board):
    with CaptureQueriesContext(connection) as captured:
        response = client_for(supervisor).get(STEP_DOWN, {"page_size": 2})

    assert response.status_code == 200
    [page] = [q["sql"] for q in captured if "LIMIT 3" in q["sql"]]
    # the page's cut reads no assessment or transition, and counts nothing
    assert "patients_assessment" not in page
    assert "programs_transition" not in page
    assert not [q for q in captured if "count(*) as" in q["sql"].lower()]
    # the annotations run over the page's two enrollments
    [annotated] = [q["sql"] for q in captured if "patients_assessment" in q["sql"]]
    first, second = (row["enrollment"] for row in response.json()["results"])
    assert {f"IN ({first}, {second})", f"IN ({second}, {first})"} & {
        annotated[annotated.index("IN (") :][: len(f"IN ({first}, {second})")]
    }


def test_step_down_board_is_audited_per_page_and_never_cached(client_for, supervisor, board):
    response = client_for(supervisor).get(STEP_DOWN, {"page_size": 2})

    assert "no-store" in response.headers["Cache-Control"]
    shown = response.json()["results"]
    events = AuditEvent.objects.filter(action="list").order_by("id")
    assert [(e.object_type, e.object_id, e.patient_id, e.actor_id) for e in events] == [
        ("programs.enrollment", str(row["enrollment"]), row["patient"], supervisor.pk)
        for row in shown
    ]
    assert {e.clinic_id for e in events} == {board["programs"][0].clinic_id}


# Who may read -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admissions", "clinician", "supervisor"])
@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_every_staff_role_reads_the_reports(client_for, clinic, role, path):
    user = staff_user(role=role, clinics=[clinic])

    assert client_for(user).get(path).status_code == 200


@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_a_superuser_reads_the_reports(client_for, clinic, path):
    ProgramFactory(clinic=clinic, name="House", capacity=10)
    superuser = UserFactory(is_superuser=True, is_staff=True)

    response = client_for(superuser).get(path)

    assert response.status_code == 200


@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_a_user_without_a_staff_role_is_refused(client_for, user_without_role, path):
    response = client_for(user_without_role).get(path)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("path", [CENSUS, STEP_DOWN])
def test_reports_need_authentication(api_client, path):
    assert api_client.get(path).status_code == 401


def test_another_clinics_programs_never_appear(client_for, clinic, other_clinic):
    mine = ProgramFactory(clinic=clinic, name="Mine", level=Level.OUTPATIENT, capacity=10)
    theirs = ProgramFactory(clinic=other_clinic, name="Theirs", level=Level.OUTPATIENT, capacity=10)
    me = staff_user(role="clinician", clinics=[clinic])
    outsider = Patient.objects.create(
        clinic=other_clinic,
        mrn="X1",
        first_name="Olly",
        last_name="Other",
        date_of_birth=datetime.date(1980, 1, 1),
    )
    admit(bulk_patients(clinic, 1)[0], mine, TODAY)
    admit(outsider, theirs, TODAY)
    client = client_for(me)

    census = client.get(CENSUS).json()["results"]
    census_of_theirs = client.get(CENSUS, {"clinic": other_clinic.pk}).json()["results"]
    board = client.get(STEP_DOWN).json()["results"]
    board_of_theirs = client.get(STEP_DOWN, {"program": theirs.pk}).json()["results"]
    selector = reports.census(
        user=me, start=TODAY, end=TODAY, programs_queryset=Program.objects.all()
    )

    assert [row["program"]["id"] for row in census] == [mine.pk]
    assert census_of_theirs == []
    assert [row["program"] for row in board] == [mine.pk]
    assert board_of_theirs == []
    assert [row["program"]["id"] for row in selector] == [mine.pk]


# Cost follows the page ----------------------------------------------------------------------------


@pytest.fixture
def many_programs(clinic):
    programs = Program.objects.bulk_create(
        Program(
            clinic=clinic,
            name=f"Program {i:03d}",
            level=Level.OUTPATIENT,
            capacity=5,
            **LEVEL_DEFAULTS[Level.OUTPATIENT],
        )
        for i in range(210)
    )
    patients = bulk_patients(clinic, len(programs))
    for i, (program, patient) in enumerate(zip(programs, patients, strict=True)):
        admit(patient, program, TODAY - datetime.timedelta(days=i % 40))
    return programs


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_census_queries_do_not_grow_with_the_page(
    client_for, supervisor, many_programs, page_size, django_assert_num_queries
):
    client = client_for(supervisor)

    # roles, clinic ids, count, page of programs, census
    with django_assert_num_queries(5):
        response = client.get(
            CENSUS, {"start": "2026-12-01", "end": "2026-12-30", "page_size": page_size}
        )

    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("end", ["2026-12-07", "2027-03-02"])
def test_census_queries_do_not_grow_with_the_range(
    client_for, supervisor, many_programs, end, django_assert_num_queries
):
    client = client_for(supervisor)

    # roles, clinic ids, count, page of programs, census
    with django_assert_num_queries(5):
        response = client.get(CENSUS, {"start": "2026-12-01", "end": end})

    assert response.status_code == 200


def test_census_default_range_costs_one_query_for_the_zones(
    client_for, supervisor, many_programs, django_assert_num_queries
):
    with django_assert_num_queries(6):
        client_for(supervisor).get(CENSUS)


@pytest.mark.parametrize("page_size", [1, 50, 200])
def test_step_down_queries_do_not_grow_with_the_page(
    client_for, supervisor, clinician, many_programs, page_size, django_assert_num_queries
):
    patients = Patient.objects.all()[:30]
    for patient in patients:
        patient_services.assessment_create(
            actor=clinician, patient=patient, severity="mild", dimensions=LOW
        )
    client = client_for(supervisor)

    # roles, clinic ids, count, page (assessments and flags as subqueries), attendance
    # figures, audit insert
    with django_assert_num_queries(6):
        response = client.get(STEP_DOWN, {"page_size": page_size})

    assert len(response.json()["results"]) == page_size
    assert AuditEvent.objects.filter(action="list").count() == page_size
