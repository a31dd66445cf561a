"""Step-downs and step-ups: one move, the kind matching the levels, clinicians only, the continuity
gap."""

import datetime

import pytest
import time_machine

from clinic.errors import Conflict
from clinic.models import AuditEvent
from programs.models import Enrollment, Transition
from programs.services import enrollments as services
from tests.factories import ProgramFactory, staff_user
from tests.programs.enrollments.helpers import NOW, TODAY, day, frozen, step_down_after_a_stay

pytestmark = pytest.mark.django_db


# Transitions --------------------------------------------------------------------------------------


@frozen
def test_api_md_step_down(client, admissions, clinic, residential, iop, patients):
    clinician = staff_user(role="clinician", clinics=[clinic])
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=day(-28)
    )
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(clinician)

    response = api.post(
        f"/api/v1/enrollments/{source.pk}/transition/",
        {
            "to_program": iop.pk,
            "date": "2026-12-29",
            "kind": "step_down",
            "reason": "stable, 28 days done",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {"id", "kind", "from_enrollment", "to_enrollment", "date", "reason"} <= set(body)
    assert (body["kind"], body["date"], body["from_enrollment"]) == (
        "step_down",
        "2026-12-29",
        source.pk,
    )
    source.refresh_from_db()
    target = Enrollment.objects.get(pk=body["to_enrollment"])
    assert (source.status, source.discharge_reason, source.discharge_date) == (
        "discharged",
        "transferred",
        datetime.date(2026, 12, 29),
    )
    assert (target.status, target.program, target.start_date) == (
        "admitted",
        iop,
        datetime.date(2026, 12, 29),
    )
    assert body["decided_by"] == clinician.username


@frozen
def test_a_transition_into_a_full_program_changes_nothing(
    admissions, clinician, clinic, residential, patients
):
    full_iop = ProgramFactory(clinic=clinic, level="iop", capacity=1, track="evening")
    services.enrollment_create(
        actor=admissions, patient=patients[1], program=full_iop, start_date=TODAY
    )
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )

    with pytest.raises(Conflict) as refused:
        services.transition_create(
            actor=clinician,
            enrollment=source,
            to_program=full_iop,
            date=day(1),
            kind="step_down",
            reason="stable",
        )

    assert refused.value.code == "program_full"
    source.refresh_from_db()
    assert source.status == "admitted"  # the discharge was rolled back with the admission
    assert not Transition.objects.exists()


@frozen
@pytest.mark.parametrize(
    ("kind", "target_level"),
    [("step_down", "residential"), ("step_up", "outpatient"), ("lateral", "iop")],
)
def test_the_kind_must_match_the_levels(
    client_for, admissions, clinic, patients, kind, target_level
):
    clinician = staff_user(role="clinician", clinics=[clinic])
    source_program = ProgramFactory(clinic=clinic, level="php", capacity=3, name="PHP")
    target = ProgramFactory(
        clinic=clinic,
        level=target_level,
        capacity=3,
        name="Target",
        track="day" if target_level == "iop" else "",
    )
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=source_program, start_date=TODAY
    )

    response = client_for(clinician).post(
        f"/api/v1/enrollments/{source.pk}/transition/",
        {"to_program": target.pk, "date": "2026-12-05", "kind": kind, "reason": "r"},
        format="json",
    )

    assert response.status_code == 400
    assert "kind" in response.json()["fields"]


@frozen
def test_only_clinicians_decide_transitions(client_for, admissions, residential, iop, patients):
    source = services.enrollment_create(
        actor=admissions, patient=patients[0], program=residential, start_date=TODAY
    )

    response = client_for(admissions).post(
        f"/api/v1/enrollments/{source.pk}/transition/",
        {"to_program": iop.pk, "date": "2026-12-05", "kind": "step_down", "reason": "r"},
        format="json",
    )

    assert response.status_code == 403


def test_the_continuity_gap_is_flagged_past_seven_days(
    admissions, clinician, clinic, residential, iop, patients
):
    with time_machine.travel(NOW, tick=False):
        move = step_down_after_a_stay(admissions, clinician, patients[0], residential, iop)

    assert not move.gap_flagged(day(8))  # 7 days without a session yet: still within target
    assert move.gap_flagged(day(9))
    move.first_session_on = day(4)
    assert move.gap_days == 3
    assert not move.gap_flagged(day(30))
    move.first_session_on = day(9)
    assert move.gap_flagged(day(30))


@frozen
def test_transition_list_is_scoped_and_audited(
    client_for, admissions, clinician, residential, iop, patients, supervisor
):
    move = step_down_after_a_stay(admissions, clinician, patients[0], residential, iop)

    rows = client_for(supervisor).get("/api/v1/transitions/").json()["results"]

    assert [row["id"] for row in rows] == [move.pk]
    assert rows[0]["patient"] == patients[0].pk
    assert AuditEvent.objects.filter(
        action="list", object_type="programs.transition", patient_id=patients[0].pk
    ).exists()
    for patient, expected in [(patients[0], [move.pk]), (patients[1], [])]:
        filtered = client_for(supervisor).get("/api/v1/transitions/", {"patient": patient.pk})
        assert [row["id"] for row in filtered.json()["results"]] == expected
