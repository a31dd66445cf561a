"""The step-down board's measures (issue 24, item 5): per stay the latest score of each
scheduled (or ordered) instrument, the change since admission, and the flags of a worsening
or an overdue measure, in a constant number of queries."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Level
from programs import reports
from programs.models import MeasureOrder
from tests.conftest import TUESDAY_10AM
from tests.factories import MeasureResponseFactory, PatientFactory, ProgramFactory, admin_login
from tests.programs.reports.helpers import STEP_DOWN, admit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]

TODAY = datetime.date(2026, 12, 1)  # the clinic's date at TUESDAY_10AM (New York)


def at(day: str, hour: int = 15) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=hour, tzinfo=datetime.UTC)


def stay(program, first_name, start):
    patient = PatientFactory(
        clinic=program.clinic,
        first_name=first_name,
        last_name="Quill",
        date_of_birth=datetime.date(1990, 1, 1),
    )
    return admit(patient, program, start, planned_end_date=datetime.date(2027, 1, 30))


def respond(enrollment, instrument, total, day, **fields):
    return MeasureResponseFactory(
        enrollment=enrollment, instrument=instrument, total=total, completed_at=at(day), **fields
    )


@pytest.fixture
def iop(clinic):
    # PHQ-9 and GAD-7 at admission and every 14 days, the BAM at admission and every 30 days
    return ProgramFactory(clinic=clinic, name="Day IOP", level=Level.IOP, capacity=20)


def board(user):
    return {row["patient_name"]: row for row in reports.step_down_board(user=user)}


def test_a_row_shows_the_latest_score_the_change_since_admission_and_a_worsening(clinician, iop):
    amy = stay(iop, "Amy", datetime.date(2026, 11, 10))
    respond(amy, "phq9", 6, "2026-11-10")
    respond(amy, "phq9", 9, "2026-11-17")
    latest_phq = respond(amy, "phq9", 12, "2026-11-24")
    respond(amy, "gad7", 10, "2026-11-10")
    respond(amy, "gad7", 7, "2026-11-24")
    respond(amy, "bam", 8, "2026-11-10")
    respond(amy, "audit_c", 5, "2026-11-10")  # not scheduled in the program: not shown

    row = board(clinician)["Quill, Amy"]

    measures = {m["instrument"]: m for m in row["measures"]}
    assert list(measures) == ["bam", "gad7", "phq9"]
    assert measures["phq9"] == {
        "instrument": "phq9",
        "latest_total": 12,
        "latest_subscales": {},
        "latest_band": latest_phq.band,
        "latest_at": at("2026-11-24"),
        "change_since_admission": 6,
        "worsened": True,
        "due": False,
        "overdue": False,
    }
    assert latest_phq.band == "moderate"
    assert (measures["gad7"]["change_since_admission"], measures["gad7"]["worsened"]) == (-3, False)
    # the BAM has no total: its subscales, and no change
    bam = measures["bam"]
    assert (bam["latest_total"], bam["change_since_admission"]) == (None, None)
    assert set(bam["latest_subscales"]) == {"use", "risk", "protective"}
    assert row["flags"] == [reports.FLAG_MEASURE_WORSENED]


@pytest.mark.parametrize(
    ("instrument", "first", "latest", "worsened"),
    [
        ("phq9", 6, 11, True),  # 5 points: clinically meaningful
        ("phq9", 6, 10, False),
        ("phq9", 15, 4, False),  # better
        ("gad7", 4, 9, True),  # GAD-7 on the same rule
        ("gad7", 4, 8, False),
    ],
)
def test_worsened_means_five_points_up_since_the_stays_first_response(
    clinician, iop, instrument, first, latest, worsened
):
    amy = stay(iop, "Amy", datetime.date(2026, 11, 24))
    respond(amy, instrument, first, "2026-11-24")
    respond(amy, instrument, latest, "2026-11-30")

    row = board(clinician)["Quill, Amy"]

    measure = next(m for m in row["measures"] if m["instrument"] == instrument)
    assert measure["change_since_admission"] == latest - first
    assert measure["worsened"] is worsened
    assert (reports.FLAG_MEASURE_WORSENED in row["flags"]) is worsened


def test_a_single_response_has_no_change_and_an_earlier_stays_responses_do_not_count(
    clinician, iop, clinic
):
    earlier = ProgramFactory(clinic=clinic, name="Outpatient", level=Level.OUTPATIENT)
    ben = stay(iop, "Ben", datetime.date(2026, 11, 24))
    before = admit(ben.patient, earlier, datetime.date(2026, 9, 1))
    respond(before, "phq9", 2, "2026-09-01")
    respond(ben, "phq9", 20, "2026-11-24")

    measure = next(
        m for m in board(clinician)["Quill, Ben"]["measures"] if m["instrument"] == "phq9"
    )

    assert (measure["latest_total"], measure["change_since_admission"]) == (20, None)
    assert measure["worsened"] is False


def test_a_measure_due_three_days_is_overdue_and_flags_the_row(clinician, iop):
    stay(iop, "Cid", datetime.date(2026, 11, 20))  # nothing answered since admission
    stay(iop, "Dee", datetime.date(2026, 11, 30))  # due since yesterday: not overdue yet

    rows = board(clinician)

    cid = rows["Quill, Cid"]
    assert [
        (m["instrument"], m["due"], m["overdue"], m["latest_total"]) for m in cid["measures"]
    ] == [
        ("bam", True, True, None),
        ("gad7", True, True, None),
        ("phq9", True, True, None),
    ]
    assert cid["flags"] == [reports.FLAG_MEASURE_OVERDUE]
    dee = rows["Quill, Dee"]
    assert {(m["due"], m["overdue"]) for m in dee["measures"]} == {(True, False)}
    assert dee["flags"] == []


def test_an_ordered_instrument_shows_while_its_order_runs_and_after(clinician, clinic):
    house = ProgramFactory(clinic=clinic, name="House", level=Level.RESIDENTIAL, capacity=10)
    eve = stay(house, "Eve", datetime.date(2026, 11, 28))
    for code in ("phq9", "gad7"):
        respond(eve, code, 3, "2026-11-28")
    MeasureOrder.objects.create(
        enrollment=eve,
        instrument="ciwa_ar",
        every_hours=4,
        ordered_by=clinician,
        ordered_at=TUESDAY_10AM - datetime.timedelta(hours=8),
    )
    eve_ciwa = MeasureResponseFactory(
        enrollment=eve,
        instrument="ciwa_ar",
        total=12,
        completed_at=TUESDAY_10AM - datetime.timedelta(hours=7),
    )

    measures = {m["instrument"]: m for m in board(clinician)["Quill, Eve"]["measures"]}

    # the COWS is scheduled by order only and neither ordered nor answered: not shown
    assert set(measures) == {"ciwa_ar", "gad7", "phq9"}
    ciwa = measures["ciwa_ar"]
    assert (ciwa["latest_total"], ciwa["latest_band"]) == (12, eve_ciwa.band)
    # due 4 hours after the response, 3 hours ago: more than an hour past due
    assert (ciwa["due"], ciwa["overdue"]) == (True, True)


def test_the_board_api_carries_the_measures_in_constant_queries(client_for, supervisor, iop):
    for i in range(12):
        amy = stay(iop, f"Amy{i:02d}", datetime.date(2026, 11, 10))
        respond(amy, "phq9", 4, "2026-11-10")
        respond(amy, "phq9", 9 + i % 3, "2026-11-24")
        respond(amy, "gad7", 5, "2026-11-10")
    client = client_for(supervisor)

    client.get(STEP_DOWN, {"page_size": 1})  # the caller's roles and clinics are then cached
    counts = {}
    for page_size in (1, 12):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(STEP_DOWN, {"page_size": page_size})
        counts[page_size] = len(queries)
        assert response.status_code == 200
        results = response.json()["results"]
        assert len(results) == page_size
        phq = next(m for m in results[0]["measures"] if m["instrument"] == "phq9")
        assert phq["change_since_admission"] in (5, 6, 7)
        assert phq["worsened"] is True
        assert "measure_worsened" in results[0]["flags"]

    # page ids, page, attendance, the first and latest responses, measures_due's schedules and
    # orders (the latest responses it reuses), audit
    assert counts == {1: 7, 12: 7}


def test_the_admin_board_shows_the_measures_and_their_flags(client, supervisor, iop):
    amy = stay(iop, "Amy", datetime.date(2026, 11, 10))
    respond(amy, "phq9", 6, "2026-11-10")
    respond(amy, "phq9", 12, "2026-11-24")
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)

    page = client.get("/admin/programs/enrollment/step-down/").content.decode()

    assert "phq9: 12 (+6 since admission) <strong>worse</strong>" in page
    assert "measure_worsened" in page
    assert "bam: none yet <strong>overdue</strong>" in page


def test_the_schema_documents_the_measures():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    row = schema["components"]["schemas"]["StepDownRow"]
    assert "measures" in row["properties"]
    measure = schema["components"]["schemas"]["StepDownMeasure"]
    assert {"latest_total", "change_since_admission", "worsened", "overdue"} <= set(
        measure["properties"]
    )
