"""The tests speak one vocabulary: data comes from ``tests.factories`` (which create through the
services), not from helpers each module writes again with its own argument order; and a module
checks one behaviour, so it stays short enough to read through."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FACTORIES = TESTS / "factories"

# The helpers the factories replaced (PatientFactory, ProgramFactory, SessionFactory,
# ConsentFactory); a module that wants one passes its data to the factory instead.
REPLACED_HELPERS = {"make_patient", "make_patients", "make_program", "make_session", "make_consent"}

# Past this a module holds more than one behaviour: split it, named after what each part checks.
MAX_LINES = 600


def _modules():
    return sorted(path for path in TESTS.rglob("*.py") if FACTORIES not in path.parents)


def test_no_module_defines_its_own_patient_or_program_helper():
    offenders = [
        f"{path.relative_to(TESTS)}:{node.lineno} defines {node.name}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name in REPLACED_HELPERS
    ]
    assert offenders == []


def test_no_test_module_grows_past_the_limit():
    too_long = {
        str(path.relative_to(TESTS)): lines
        for path in _modules()
        if path.name.startswith("test_")
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}
