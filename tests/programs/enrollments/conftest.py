"""The fixtures the modules of enrollments/ share."""

import pytest

from tests.factories import PatientFactory, ProgramFactory


@pytest.fixture
def residential(clinic):
    return ProgramFactory(clinic=clinic, level="residential", capacity=2)


@pytest.fixture
def iop(clinic):
    return ProgramFactory(clinic=clinic, level="iop", capacity=5, track="day")


@pytest.fixture
def patients(clinic, admissions):
    return [PatientFactory(clinic=clinic, actor=admissions) for _ in range(4)]
