"""The layout rules of DESIGN.md, checked on the source."""

import ast
import datetime
from pathlib import Path

import pytest
import time_machine


def test_the_apps_import_only_to_their_right():
    """DESIGN.md: programs → scheduling → patients → clinic, never the other way."""
    order = ["clinic", "patients", "scheduling", "programs"]
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for rank, app in enumerate(order):
        higher = set(order[rank + 1 :])
        for path in (root / app).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                offenders += [
                    f"{path.relative_to(root)} imports {name}"
                    for name in names
                    if name.split(".")[0] in higher
                ]
    assert offenders == []


@pytest.mark.django_db
# The admission below is dated: frozen, so the 30-day back-dating limit never refuses it.
@time_machine.travel(datetime.datetime(2026, 11, 23, 15, tzinfo=datetime.UTC), tick=False)
def test_denormalised_patients_must_match_what_they_hang_on(clinic, admissions, clinician):
    """Composite foreign keys (programs migration 0006) refuse a mismatched patient."""
    from django.db import IntegrityError, transaction

    from patients import services as patient_services
    from programs.models import LEVEL_DEFAULTS, AftercarePlan, CheckIn, Program
    from programs.services import aftercare, enrollments

    program = Program.objects.create(
        **{
            **LEVEL_DEFAULTS["outpatient"],
            "clinic": clinic,
            "name": "OP",
            "level": "outpatient",
            "capacity": 5,
        }
    )
    ana, ben = (
        patient_services.patient_create(
            actor=admissions,
            clinic=clinic,
            first_name=name,
            last_name="Roe",
            date_of_birth=datetime.date(1980, 1, 1),
        )
        for name in ("Ana", "Ben")
    )
    stay = enrollments.enrollment_create(
        actor=admissions, patient=ana, program=program, start_date=datetime.date(2026, 11, 23)
    )
    plan = aftercare.aftercare_plan_create(actor=clinician, enrollment=stay)

    with (
        pytest.raises(IntegrityError, match="aftercareplan_patient_is_enrollments"),
        transaction.atomic(),
    ):
        AftercarePlan.objects.filter(pk=plan.pk).update(patient=ben)
    checkin = aftercare.checkin_record(
        actor=clinician, plan=plan, craving=1, mood=4, used_substance=False
    )
    with pytest.raises(IntegrityError, match="checkin_patient_is_plans"), transaction.atomic():
        CheckIn.objects.filter(pk=checkin.pk).update(patient=ben)


def test_the_calendars_and_programs_raw_sql_names_tables_through_meta():
    """Hand-written SQL in scheduling and programs takes its table names from the models'
    ``_meta`` (``clinic.sql.statement``), never as literal text (migrations aside)."""
    import re

    from django.apps import apps

    tables = {model._meta.db_table for model in apps.get_models()}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, tables))) + r")\b")
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for app in ("scheduling", "programs"):
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    offenders += [
                        f"{path.relative_to(root)}:{node.lineno} names {match}"
                        for match in pattern.findall(node.value)
                    ]
    assert offenders == []
