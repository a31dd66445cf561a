"""The attendee parts' suggested text: goals and latest measures."""

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.models import AftercareGoal, AftercarePlan
from programs.selectors import group_note_prefill
from tests.factories.programs import EnrollmentFactory, MeasureResponseFactory


def test_prefill_holds_open_goals_and_latest_measures(group, clinician, iop):
    ana = group.patients[0]
    enrollment = EnrollmentFactory(patient=ana, program=iop)
    plan = AftercarePlan.objects.create(
        patient=ana, enrollment=enrollment, status="active", created_by=clinician
    )
    AftercareGoal.objects.create(plan=plan, description="Attend 3 meetings", status="in_progress")
    AftercareGoal.objects.create(plan=plan, description="Done already", status="achieved")
    MeasureResponseFactory(
        enrollment=enrollment,
        instrument="phq9",
        total=4,
        completed_at=datetime.datetime(2026, 11, 1, 15, tzinfo=datetime.UTC),
    )
    MeasureResponseFactory(
        enrollment=enrollment,
        instrument="phq9",
        total=12,
        completed_at=datetime.datetime(2026, 11, 20, 15, tzinfo=datetime.UTC),
    )

    with CaptureQueriesContext(connection) as queries:
        prefill = group_note_prefill(group)

    # Attendees, plans, their goals, latest responses: whatever the roster's size.
    assert len(queries) == 4

    assert set(prefill) == {p.pk for p in group.patients[:3]}
    assert prefill[ana.pk]["plan"] == ""
    progress = prefill[ana.pk]["progress"]
    assert "Goal: Attend 3 meetings (in progress)" in progress
    assert "Done already" not in progress
    assert "PHQ-9: 12, Moderate depression (2026-11-20)" in progress
    assert prefill[group.patients[1].pk]["progress"] == ""


def test_prefill_without_plans_skips_the_goals(group):
    with CaptureQueriesContext(connection) as queries:
        prefill = group_note_prefill(group)
    assert len(queries) == 3
    assert all(text == {"progress": "", "plan": ""} for text in prefill.values())
