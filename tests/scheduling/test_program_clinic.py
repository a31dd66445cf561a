"""A program's sessions and series are its clinic's: the services refuse another clinic's
program with a 400-ready error, and the database refuses it whoever writes (a composite foreign
key, scheduling migration 0011), so reports may join either clinic."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from scheduling import services
from scheduling.models import Series, Session
from tests.factories import ClinicFactory, ProgramFactory, SessionFactory, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def here():
    return ClinicFactory()


@pytest.fixture
def elsewhere():
    return ProgramFactory(clinic=ClinicFactory())


def a_session() -> dict:
    """A group session's fields, tomorrow for three hours."""
    starts = timezone.now().replace(microsecond=0) + datetime.timedelta(days=1)
    return {
        "title": "Group",
        "kind": "group",
        "starts_at": starts,
        "ends_at": starts + datetime.timedelta(hours=3),
    }


def a_series(clinic) -> dict:
    """A weekly series' fields, Mondays and Wednesdays at 18:00 from tomorrow."""
    return {
        "title": "Group",
        "weekdays": [1, 3],
        "local_start_time": datetime.time(18),
        "duration_minutes": 180,
        "starts_on": clinic.today() + datetime.timedelta(days=1),
    }


def test_the_services_refuse_another_clinics_program(here, elsewhere):
    actor = staff_user(role="clinician", clinics=[here])
    with pytest.raises(ValidationError) as session_error:
        services.session_create(actor=actor, clinic=here, program=elsewhere, **a_session())
    with pytest.raises(ValidationError) as series_error:
        services.series_create(actor=actor, clinic=here, program=elsewhere, **a_series(here))

    for error in (session_error, series_error):
        assert error.value.message_dict == {"program": ["The program belongs to another clinic."]}
    assert not Session.objects.exists()
    assert not Series.objects.exists()


def test_the_database_refuses_it_whoever_writes(here, elsewhere):
    with pytest.raises(IntegrityError, match="session_program_in_its_clinic"), transaction.atomic():
        Session.objects.create(clinic=here, program=elsewhere, **a_session())
    with pytest.raises(IntegrityError, match="series_program_in_its_clinic"), transaction.atomic():
        Series.objects.create(
            clinic=here,
            program=elsewhere,
            time_zone=here.time_zone,
            created_by=staff_user(role="clinician", clinics=[here]),
            **a_series(here),
        )


def test_a_program_with_sessions_cannot_move_to_another_clinic(here):
    program = ProgramFactory(clinic=here)
    SessionFactory(clinic=here, program=program)
    program.clinic = ClinicFactory()

    with pytest.raises(IntegrityError, match="session_program_in_its_clinic"), transaction.atomic():
        program.save(update_fields=["clinic"])


def test_sessions_without_a_program_are_free_of_it(here):
    assert SessionFactory(clinic=here).program_id is None
