"""The fixtures the modules of aftercare/ share."""

import pytest

from tests.programs.aftercare.helpers import make_plan


@pytest.fixture
def plan(clinic, admissions, clinician):
    return make_plan(clinic, admissions, clinician, first_name="Ana", last_name="Diaz")
