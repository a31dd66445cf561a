"""The layout rules of DESIGN.md, checked on the source."""

import ast
import datetime
import re
from pathlib import Path

import pytest
import time_machine

from clinic.models import Role
from tests.factories import PatientFactory, ProgramFactory


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


APPS = ["clinic", "patients", "scheduling", "programs"]


def test_every_app_has_one_api_urls_module_and_config_includes_each():
    """Every app the same shape: one ``api/urls.py``; config/urls.py includes the four."""
    root = Path(__file__).resolve().parents[1]
    for app in APPS:
        url_modules = sorted(p.name for p in (root / app / "api").glob("*urls*.py"))
        assert url_modules == ["urls.py"], app
    included = [
        node.args[0].value
        for node in ast.walk(ast.parse((root / "config" / "urls.py").read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "include"
        and isinstance(node.args[0], ast.Constant)
    ]
    assert sorted(included) == sorted(f"{app}.api.urls" for app in APPS)


def test_admins_share_pieces_through_clinic_not_through_each_other():
    """Shared admin pieces live in clinic (``clinic/admin_utils.py``): no app imports another
    app's admin, except programs extending the patient's page it adds to."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for app in APPS:
        for path in root.joinpath(app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or not node.module:
                    continue
                owner, _, rest = node.module.partition(".")
                crosses = owner != app and rest.split(".")[0] == "admin"
                extends_patients_page = (
                    path.relative_to(root).as_posix() == "programs/admin/patients.py"
                    and node.module == "patients.admin"
                )
                if crosses and owner in APPS[1:] and not extends_patients_page:
                    offenders.append(f"{path.relative_to(root)} imports {node.module}")
    assert offenders == []


@pytest.mark.django_db
# The admission below is dated: frozen, so the 30-day back-dating limit never refuses it.
@time_machine.travel(datetime.datetime(2026, 11, 23, 15, tzinfo=datetime.UTC), tick=False)
def test_denormalised_patients_must_match_what_they_hang_on(clinic, admissions, clinician):
    """Composite foreign keys (programs migration 0006) refuse a mismatched patient."""
    from django.db import IntegrityError, transaction

    from programs.models import AftercarePlan, CheckIn
    from programs.services import aftercare, enrollments

    program = ProgramFactory(clinic=clinic, name="OP", level="outpatient", capacity=5)
    ana, ben = (
        PatientFactory(
            clinic=clinic,
            actor=admissions,
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


def _product_modules():
    root = Path(__file__).resolve().parents[1]
    for app in ["clinic", "patients", "scheduling", "programs"]:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(root).as_posix(), ast.parse(path.read_text())


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


AUDIT_HELPERS = {"audit_record", "audit_record_many", "audit_record_rows"}


def test_audit_rows_are_written_through_clinic_services_only():
    """One home for the audit trail: no module wraps ``clinic.services.audit_record*`` in a
    function of its own, nor creates audit rows itself. (The API mixins' ``audit_read`` and
    ``audit_list`` are hooks that viewsets override, not module helpers.)"""
    offenders = []
    for path, tree in _product_modules():
        module_functions = {id(node) for node in tree.body if isinstance(node, ast.FunctionDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and path != "clinic/services/__init__.py":
                target = node.func
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr in {"create", "bulk_create"}
                    and "AuditEvent" in ast.unparse(target.value)
                ):
                    offenders.append(f"{path}: {ast.unparse(node)[:60]}")
            if id(node) not in module_functions or node.name in AUDIT_HELPERS:
                continue
            body = [
                statement
                for statement in node.body
                if not (
                    isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                )
            ]
            # A function that does nothing but call the helper is a second home for it.
            if (
                len(body) == 1
                and isinstance(body[0], ast.Expr | ast.Return)
                and isinstance(body[0].value, ast.Call)
                and _called_name(body[0].value) in AUDIT_HELPERS
            ):
                offenders.append(f"{path}: {node.name} wraps {_called_name(body[0].value)}")
    assert offenders == []


# Role tables that the API and the admin both read: each is defined in one module.
ROLE_TABLES = {
    "STAFF_ROLES": "clinic/selectors.py",
    "CLINICAL_ROLES": "clinic/selectors.py",
    "PATIENT_WRITE_ROLES": "patients/services.py",
    "CALENDAR_WRITE_ROLES": "scheduling/services.py",
    "RETRY_ROLES": "scheduling/reminders/sending.py",
    "ACTION_ROLES": "programs/services/enrollments.py",
    "DISCLOSURE_ROLES": "programs/services/disclosures.py",
    "UTILIZATION_WRITE_ROLES": "programs/services/authorizations.py",
    "UR_QUEUE_ROLES": "programs/services/authorizations.py",
    "INQUIRY_WRITE_ROLES": "programs/services/inquiries.py",
    "SCREENING_ROLES": "programs/services/inquiries.py",
    "VERIFICATION_ROLES": "programs/services/inquiries.py",
    "ADMISSIONS_REPORT_ROLES": "programs/services/inquiries.py",
}


def test_role_tables_and_the_clinic_s_today_have_one_home():
    """Each role table is defined once (``ROLE_TABLES``), every staff role is spelled out only in
    ``STAFF_ROLES``, and a clinic's date is computed only by ``clinic.models`` (``Clinic.today``,
    ``zone_today``)."""
    homes, all_staff_spelled, inline_today = {}, [], []
    every_role = {f"Role.{role.name}" for role in Role}
    for path, tree in _product_modules():
        for node in tree.body:
            if not isinstance(node, ast.Assign):
                continue
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ROLE_TABLES:
                    homes.setdefault(target.id, []).append(path)
            if (
                isinstance(node.value, ast.Tuple)
                and {ast.unparse(element) for element in node.value.elts} == every_role
            ):
                all_staff_spelled.append(path)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and _called_name(node) == "localdate"
                and any(keyword.arg == "timezone" for keyword in node.keywords)
                and path != "clinic/models.py"
            ):
                inline_today.append(f"{path}:{node.lineno}")
    assert homes == {name: [path] for name, path in ROLE_TABLES.items()}
    assert all_staff_spelled == ["clinic/selectors.py"]
    assert inline_today == []


def test_disclosures_are_made_by_their_service_only():
    """Records leave the clinic under a consent: only ``disclosure_create`` (which checks one
    covers them, under the consents' locks) writes a disclosure row."""
    home = "programs/services/disclosures.py"
    offenders = []
    for path, tree in _product_modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or path == home:
                continue
            target = ast.unparse(node.func)
            if target == "Disclosure" or (
                target.startswith("Disclosure.objects.")
                and _called_name(node) in {"create", "bulk_create", "get_or_create", "update"}
            ):
                offenders.append(f"{path}:{node.lineno} {target}")
    assert offenders == []


def test_utilization_review_rows_are_written_by_their_services_only():
    """A review's outcome changes its authorization in the same transaction, under the
    authorization's lock: only ``programs.services.authorizations`` writes payers, coverage,
    authorizations and reviews (the admin and the API call it)."""
    home = "programs/services/authorizations.py"
    models = ("Payer", "Coverage", "Authorization", "ConcurrentReview")
    writes = {"create", "bulk_create", "get_or_create", "update_or_create", "update", "bulk_update"}
    offenders = []
    for path, tree in _product_modules():
        if path == home:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            target = ast.unparse(node.func)
            if target in models or (
                target.split(".objects.")[0] in models and _called_name(node) in writes
            ):
                offenders.append(f"{path}:{node.lineno} {target}")
    assert offenders == []


def test_raw_sql_names_tables_through_meta():
    """Hand-written SQL takes its table names from the models' ``_meta``
    (``clinic.sql.statement``), never as literal text (migrations aside)."""
    import re

    from django.apps import apps

    tables = {model._meta.db_table for model in apps.get_models()}
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, tables))) + r")\b")
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for app in ("clinic", "patients", "scheduling", "programs"):
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


def test_the_disclosure_bundle_has_one_builder():
    """One builder of the document a disclosure sends: only ``programs/fhir.py`` defines
    ``disclosure_bundle``, and only ``disclosure_create`` calls it (the API's bundle and the
    admin's download serve the document stored with the disclosure)."""
    builders = [
        path
        for path, tree in _product_modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "disclosure_bundle"
    ]
    assert builders == ["programs/fhir.py"]
    callers = [
        path
        for path, tree in _product_modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _called_name(node) == "disclosure_bundle"
    ]
    assert callers == ["programs/services/disclosures.py"]


def test_inquiry_status_moves_have_one_home():
    """An inquiry's status changes with its history row, under its lock: only
    ``programs.services.inquiries`` (``inquiry_status_move`` and the creation) writes the rows."""
    home = "programs/services/inquiries.py"
    writes = {"create", "bulk_create", "get_or_create", "update_or_create", "update", "bulk_update"}
    offenders = []
    for path, tree in _product_modules():
        if path == home:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            target = ast.unparse(node.func)
            if target == "InquiryStatusChange" or (
                target.split(".objects.")[0] == "InquiryStatusChange"
                and _called_name(node) in writes
            ):
                offenders.append(f"{path}:{node.lineno} {target}")
    assert offenders == []


# Session state that outlives a transaction: behind PgBouncer's transaction pooling
# (DATABASE_POOLER=pgbouncer) the next transaction may run on another server connection, where
# a prepared statement, a session lock, a SET or a held cursor is missing or belongs to someone
# else. Transaction-scoped forms (SET LOCAL, pg_advisory_xact_lock, set_config(…, true)) are fine.
SESSION_STATE = [
    re.compile(r"\bPREPARE\s+[\w{}]+\s*(\(|AS\b)"),
    re.compile(r"\bEXECUTE\s+[\w{}]+\s*\("),
    re.compile(r"\bpg_(try_)?advisory_lock(_shared)?\s*\(", re.IGNORECASE),
    re.compile(r"(\A|;)\s*SET\s+(?!LOCAL\b|CONSTRAINTS\b|TRANSACTION\b)", re.IGNORECASE),
    re.compile(r"\bset_config\s*\([^)]*,\s*false\s*\)", re.IGNORECASE),
    re.compile(r"\bLISTEN\s+\w+"),
    re.compile(r"\bWITH\s+HOLD\b"),
    re.compile(r"\bCREATE\s+(TEMP|TEMPORARY)\s+TABLE\b"),
]


def _session_state_in(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of the string literals (an f-string as a whole) that set session state."""
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in ast.walk(node)
        if part is not node
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in in_fstrings:
                continue
            text = node.value
        else:
            continue
        if any(pattern.search(text) for pattern in SESSION_STATE):
            found.append((node.lineno, text.strip()[:60]))
    return found


@pytest.mark.parametrize(
    "source",
    [
        'cursor.execute(f"PREPARE {name} ({types}) AS {sql}")',
        'cursor.execute(f"EXECUTE {name} ({casts})", params)',
        'cursor.execute("SELECT pg_advisory_lock(%s)", [key])',
        'cursor.execute("SELECT pg_try_advisory_lock(1)")',
        'cursor.execute("SET statement_timeout = 1000")',
        'cursor.execute("set jit = off")',
        "cursor.execute(\"SET SESSION work_mem = '64MB'\")",
        "cursor.execute(\"SELECT set_config('jit', 'off', false)\")",
        'cursor.execute("LISTEN reminders")',
        'cursor.execute("DECLARE c CURSOR WITH HOLD FOR SELECT 1")',
        'cursor.execute("CREATE TEMP TABLE t (id int)")',
    ],
)
def test_the_session_state_guard_sees(source):
    assert _session_state_in(ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        'cursor.execute("SET LOCAL statement_timeout = 1000")',
        'cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")',
        'cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])',
        'cursor.execute(f"UPDATE {table}\\nSET status = %s WHERE id = %s")',
        "cursor.execute(\"SELECT set_config('jit', 'off', true)\")",
    ],
)
def test_the_session_state_guard_lets_transaction_scoped_state_pass(source):
    assert _session_state_in(ast.parse(source)) == []


def test_runtime_code_keeps_no_session_state():
    """Nothing the service runs (the apps and config, migrations aside) leaves state on its
    database session: it must work through PgBouncer in transaction pooling."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for app in ("clinic", "patients", "scheduling", "programs", "config"):
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            offenders += [
                f"{path.relative_to(root)}:{line} {text}"
                for line, text in _session_state_in(ast.parse(path.read_text()))
            ]
    assert offenders == []


# Messages the broker would hold back for later (ETA), and task options that make them.
DELAYING_KEYWORDS = {"countdown", "eta", "autoretry_for", "default_retry_delay", "retry_backoff"}


def _broker_delays(tree) -> list[str]:
    """Calls that leave work in the broker for later: ETA/countdown messages, Celery retries."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        found += [
            f"{node.lineno} {keyword.arg}="
            for keyword in node.keywords
            if keyword.arg in DELAYING_KEYWORDS
        ]
        if _called_name(node) == "retry" and "self" in ast.unparse(node.func):
            found.append(f"{node.lineno} {ast.unparse(node.func)}()")
    return found


def test_no_work_waits_in_the_broker():
    """DESIGN.md: the outboxes in the database are the truth and the broker only wakes workers,
    so no task is scheduled for later in the broker (no ETA, countdown or Celery retry): a lost
    or restarted broker, Redis or RabbitMQ, delays a reminder and never loses it (and RabbitMQ's
    quorum queues, whose per-consumer prefetch cannot grow for ETA tasks, are never blocked)."""
    root = Path(__file__).resolve().parents[1]
    modules = list(_product_modules()) + [
        (path.relative_to(root).as_posix(), ast.parse(path.read_text()))
        for path in sorted((root / "config").rglob("*.py"))
    ]
    offenders = [f"{path}:{found}" for path, tree in modules for found in _broker_delays(tree)]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "reminders_drain_task.apply_async(countdown=60)",
        "task.apply_async(args=[1], eta=when)",
        "@shared_task(bind=True, autoretry_for=(OSError,))\ndef t(self): pass",
        "@shared_task(bind=True)\ndef t(self):\n    raise self.retry(exc=error)",
    ],
)
def test_the_broker_delay_check_can_fail(source):
    assert _broker_delays(ast.parse(source)) != []
