"""Every operation of the schema is in the matrix, and every kind of caller gets what the matrix
says."""

import pytest

from tests.access_walk.helpers import AC, CLIN, MATRIX, SUP, UR, World, schema_operations, walk

pytestmark = pytest.mark.django_db


def test_every_schema_operation_is_in_the_matrix():
    operations = set(schema_operations())
    assert operations - set(MATRIX) == set(), "operations without a matrix entry"
    assert set(MATRIX) - operations == set(), "matrix entries for operations that are gone"


def test_the_access_walk():
    problems = walk(World(), MATRIX, schema_operations())
    assert problems == [], "\n" + "\n".join(problems)


def test_the_walk_reports_a_mismatch():
    """The walk can fail: a matrix that denies admissions the patient list, or grants
    clinicians the audit trail, disagrees with the service and is reported."""
    wrong = {
        **MATRIX,
        ("GET", "/api/v1/patients/"): {CLIN, SUP, UR, AC},
        ("GET", "/api/v1/audit-events/"): {SUP, CLIN},
    }
    problems = walk(
        World(), wrong, [("GET", "/api/v1/patients/"), ("GET", "/api/v1/audit-events/")]
    )
    # Admissions of A and B list patients (403 wanted); clinicians of A and B get 403 (allowed
    # wanted) on the audit trail.
    assert len(problems) == 4, problems
    assert all("wanted" in problem for problem in problems)
