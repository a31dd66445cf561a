"""``reports/continuity/``: every staff role reads the figures, supervisors the patients too
(each reading audited), the query string's checks, and constant queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.reports_admissions import Month
from programs.reports_continuity import continuity_report
from tests.factories import staff_user
from tests.programs.continuity_report.helpers import (
    CONTINUITY,
    at,
    attended,
    listed_audits,
    person,
    programs_of,
    stay,
)

pytestmark = pytest.mark.django_db


def harbor_november(body):
    harbor = next(p for p in body["programs"] if p["program_name"] == "Harbor House")
    return next(m for m in harbor["months"] if m["month"] == "2026-11")


def test_a_supervisor_reads_the_patients_and_the_reading_is_audited(client_for, supervisor, case):
    response = client_for(supervisor).get(CONTINUITY, {"start": "2026-10", "end": "2026-11"})

    assert response.status_code == 200, response.json()
    assert "no-store" in response["Cache-Control"]
    november = harbor_november(response.json())
    assert november["eligible"] == 6
    assert november["rate_30_days"] == 0.6667
    assert [p["patient_name"] for p in november["patients"]] == [
        "Abbot, Ann",
        "Baker, Bob",
        "Cole, Cat",
        "Diaz, Dan",
        "Gray, Gil",
        "Irwin, Ivy",
    ]
    assert november["patients"][3]["readmitted_on"] == "2026-11-20"
    # one audit row per stay listed: 6 in November, 3 in October
    audits = listed_audits(supervisor)
    assert audits.count() == 9
    assert set(audits.values_list("object_id", flat=True)) >= {
        str(case["stays"]["Ann"].pk),
        str(case["stays"]["Jon"].pk),
    }


@pytest.mark.parametrize("role", ["clinician", "admissions", "utilization_review"])
def test_other_staff_read_the_figures_without_the_patients(client_for, clinic, case, role):
    user = staff_user(role=role, clinics=[clinic])

    response = client_for(user).get(CONTINUITY, {"start": "2026-10", "end": "2026-11"})

    assert response.status_code == 200
    body = response.json()
    assert body["lists_patients"] is False
    assert harbor_november(body)["eligible"] == 6
    assert harbor_november(body)["patients"] is None
    assert not listed_audits(user).exists()


def test_patients_and_strangers_are_refused(client_for, user_without_role, api_client, case):
    assert client_for(user_without_role).get(CONTINUITY).status_code == 403
    assert api_client.get(CONTINUITY).status_code == 401


def test_another_clinics_staff_see_none_of_it(client_for, case, other_clinic):
    outsider = staff_user(role="supervisor", clinics=[other_clinic])

    body = client_for(outsider).get(CONTINUITY, {"start": "2026-10", "end": "2026-11"}).json()

    assert body["programs"] == []
    assert body["total"]["eligible"] == 0
    assert not listed_audits(outsider).exists()


def test_narrowed_to_a_program(client_for, supervisor, case):
    php = case["programs"]["php"]

    body = client_for(supervisor).get(CONTINUITY, {"program": php.pk, "end": "2026-11"}).json()

    assert [p["program"] for p in body["programs"]] == [php.pk]
    assert (body["start"], body["end"]) == ("2025-12", "2026-11")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-11", "end": "2026-10"}, "end"),
        ({"start": "2023-01", "end": "2026-11"}, "end"),
        ({"start": "2026-13"}, "start"),
        ({"end": "November"}, "end"),
        ({"program": "0"}, "program"),
        ({"clinic": "x"}, "clinic"),
        ({"start": "9999-12"}, "start"),
    ],
)
def test_a_bad_query_is_a_400(client_for, supervisor, case, query, field):
    response = client_for(supervisor).get(CONTINUITY, query)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_report_costs_the_same_queries_whatever_the_programs_months_and_patients(
    supervisor, clinic, case, frozen_time
):
    def count(start, end):
        with CaptureQueriesContext(connection) as queries:
            continuity_report(user=supervisor, start=start, end=end, now=frozen_time)
        return len(queries)

    count(Month(2026, 11), Month(2026, 11))  # the caller's roles and clinics cached
    short = count(Month(2026, 11), Month(2026, 11))
    long = count(Month(2024, 12), Month(2026, 11))
    # more programs, discharges and visits
    more = programs_of(clinic, suffix=" 2")
    for n in range(8):
        patient = person(clinic, f"P{n}")
        stay(patient, more["residential"], "2026-10-01", f"2026-11-{n + 10:02d}")
        stay(patient, more["php"], "2026-11-25")
        attended(patient, more["iop"], at(f"2026-11-{n + 12:02d}"))

    # the programs; the stays with their visits and readmissions
    assert short == long == count(Month(2024, 12), Month(2026, 11)) == 2
    report = continuity_report(
        user=supervisor, start=Month(2026, 11), end=Month(2026, 11), now=frozen_time
    )
    assert report["total"]["eligible"] == 6 + 8
    assert report["total"]["readmitted"] == 1 + 8


def test_the_supervisors_reading_audits_in_one_statement(client_for, supervisor, case):
    client = client_for(supervisor)
    client.get(CONTINUITY, {"start": "2026-11", "end": "2026-11"})  # warm
    with CaptureQueriesContext(connection) as queries:
        client.get(CONTINUITY, {"start": "2026-11", "end": "2026-11"})
    inserts = [q for q in queries if "INSERT" in q["sql"] and "clinic_auditevent" in q["sql"]]
    assert len(inserts) == 1
