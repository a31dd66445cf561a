"""The admin patient page's measures (issue 24, item 5): per instrument with responses, a
server-rendered SVG line chart of the totals (the BAM: its three subscales) over the bands
shaded, and a table of the responses; the page's opening audited."""

import datetime
import re

import pytest

from clinic.models import AuditAction, AuditEvent
from patients.instruments import INSTRUMENTS
from patients.models import Level
from programs.charts import BAND_SHADES, measure_chart
from programs.models import MeasureResponse
from tests.factories import MeasureResponseFactory, PatientFactory, ProgramFactory, admin_login
from tests.programs.reports.helpers import admit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_time")]


def on(day: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(day).replace(hour=15, tzinfo=datetime.UTC)


@pytest.fixture
def stay(clinic):
    iop = ProgramFactory(clinic=clinic, name="Day <b>IOP</b>", level=Level.IOP, capacity=10)
    patient = PatientFactory(
        clinic=clinic, first_name="Noor", last_name="Quill", date_of_birth=datetime.date(1988, 5, 6)
    )
    return admit(patient, iop, datetime.date(2026, 11, 1))


def test_the_chart_draws_a_titled_point_per_response_over_the_shaded_bands(stay):
    for total, day in ((18, "2026-11-01"), (12, "2026-11-15"), (6, "2026-11-29")):
        MeasureResponseFactory(
            enrollment=stay, instrument="phq9", total=total, completed_at=on(day)
        )
    responses = list(MeasureResponse.objects.filter(instrument="phq9"))

    svg = str(measure_chart(INSTRUMENTS["phq9"], responses))

    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="board-chart"')
    assert 'aria-label="PHQ-9 over time, 3 responses"' in svg
    # the five bands shaded, each titled with its range
    assert svg.count("<rect") == 5
    assert "<title>Severe depression: 20–27</title>" in svg
    assert BAND_SHADES[0] in svg
    # one line through three points, oldest first, each titled with its date, total and band
    assert svg.count("<polyline") == 1
    titles = re.findall(r"<circle[^>]*><title>([^<]*)</title>", svg)
    assert titles == [
        "2026-11-01: 18 (moderately_severe)",
        "2026-11-15: 12 (moderate)",
        "2026-11-29: 6 (mild)",
    ]
    # higher totals are drawn higher (smaller y)
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]*" cy="([^"]*)"', svg)]
    assert ys[0] < ys[1] < ys[2]


def test_the_bam_draws_its_three_subscales(stay):
    MeasureResponseFactory(
        enrollment=stay, instrument="bam", total=10, completed_at=on("2026-11-01")
    )
    MeasureResponseFactory(
        enrollment=stay, instrument="bam", total=4, completed_at=on("2026-11-20")
    )

    svg = str(measure_chart(INSTRUMENTS["bam"], list(MeasureResponse.objects.all())))

    assert svg.count("<polyline") == 3
    titles = re.findall(r"<circle[^>]*><title>([^<]*)</title>", svg)
    assert {title.split(": ")[1].split(" ")[0] for title in titles} == {
        "use",
        "risk",
        "protective",
    }


def test_no_responses_draw_an_empty_chart():
    assert "no responses" in str(measure_chart(INSTRUMENTS["gad7"], []))


def test_the_patient_page_shows_each_instruments_chart_and_responses(client, supervisor, stay):
    MeasureResponseFactory(
        enrollment=stay, instrument="phq9", total=14, completed_at=on("2026-11-02")
    )
    MeasureResponseFactory(
        enrollment=stay, instrument="phq9", total=9, completed_at=on("2026-11-16")
    )
    MeasureResponseFactory(
        enrollment=stay, instrument="gad7", total=3, completed_at=on("2026-11-02")
    )
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)

    response = client.get(f"/admin/patients/patient/{stay.patient_id}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    phq = page[page.index('id="measure-phq9"') : page.index('id="measure-gad7"')]
    assert "Patient Health Questionnaire" in phq or "PHQ-9" in phq
    assert 'aria-label="PHQ-9 over time, 2 responses"' in phq
    # the table, newest first: date (the clinic's), total, band, who, the stay
    assert re.search(
        r"<td>2026-11-16 10:00</td><td>9</td><td>Mild depression</td><td>[^<]+</td>"
        r"<td>Day &lt;b&gt;IOP&lt;/b&gt;</td>",
        phq,
    )
    assert phq.index("2026-11-16 10:00") < phq.index("2026-11-02 10:00")
    assert 'aria-label="GAD-7 over time, 1 responses"' in page
    assert "<b>IOP</b>" not in page  # names are data, escaped
    assert AuditEvent.objects.filter(
        actor=supervisor, action=AuditAction.READ, patient_id=stay.patient_id
    ).exists()


def test_a_patient_without_measures_says_so(client, supervisor, stay):
    supervisor.is_staff = True
    supervisor.save(update_fields=["is_staff"])
    admin_login(client, supervisor)

    page = client.get(f"/admin/patients/patient/{stay.patient_id}/change/").content.decode()

    assert "No measures recorded." in page
