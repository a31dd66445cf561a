"""The redisclosure guard (42 CFR Part 2, issue 22 point 6): no route that the outside world can
reach returns enrollment or level-of-care data.

Outside the clinic's staff and the patient's own ``me/`` there are three ways in: nobody signed
in (every URL pattern of the project: the API, the calendar feeds, the admin, the schema and
docs, the health check), a calendar-feed token (the patient's feed is synced to third-party
calendar services), and a patient's app token aimed at anything but the patient's own ``me/``
(clinic B's patient walks all of clinic A's operations, A's patient every staff operation). None
of these responses may carry a program's name or a level of care. The patient's own ``me/`` is
the patient's reach; staff calendar feeds carry no patient. The one route that gives enrollment
data to someone outside is the FHIR export of a disclosure (``programs.fhir``), sent only under
a consent that covers its recipient, purpose and categories, with the §2.32 notice.

Reminders, calendar feeds and notices stay as neutral as before: their word lists live with
them (tests/scheduling/test_reminders.py, tests/scheduling/test_calendar_feeds.py,
tests/programs/test_waitlist_offers.py, tests/e2e/test_reminder_delivery.py).
"""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from patients.models import Level
from programs.models import Program
from scheduling import services as scheduling_services
from tests.access_walk.helpers import World, call, schema_operations

pytestmark = pytest.mark.django_db

# Placeholders of the URL patterns: any value reaches the permission check first.
_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def every_url(patterns=None, prefix="") -> list[str]:
    """One concrete path per URL pattern of the project, placeholders filled with ``1``."""
    paths = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths += every_url(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            if "format" in route:  # DRF's ".json" suffix twins of the same views
                continue
            path = _PLACEHOLDER.sub(lambda m: "1", route)
            path = path.replace("^", "").replace("$", "").replace("\\", "")
            paths.append("/" + path.replace("?", ""))
    return sorted(set(paths))


def treatment_traces(world: World, body: bytes) -> list[str]:
    """The program names of clinic A and the levels of care that ``body`` shows."""
    text = body.decode(errors="replace")
    marks = [
        *Program.objects.filter(clinic=world.clinic).values_list("name", flat=True),
        *Level.labels,
    ]
    return [mark for mark in marks if mark in text]


@pytest.fixture
def world():
    return World()


def test_every_url_pattern_is_walked():
    paths = every_url()
    assert "/api/v1/patients/1/" in paths
    assert any(path.startswith("/admin/") for path in paths)
    assert any(path.startswith("/calendar/") for path in paths)
    assert len(paths) > 100


def test_nobody_signed_in_gets_no_treatment_data_anywhere(world):
    client = Client()
    leaks = []
    for path in every_url():
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if response.status_code == 200 and path.startswith("/api/v1/"):
                leaks.append(f"{method} {path}: 200")
            # The schema is built from the code, never from the database (it lists the levels
            # of care as choices, and the demo's programs are named after their levels).
            if path != "/api/schema/":
                marks = treatment_traces(world, response.content)
                leaks += [f"{method} {path}: {mark}" for mark in marks]
    assert leaks == []


def test_the_patients_calendar_feed_names_no_program_or_level(world):
    _, token = scheduling_services.calendar_feed_for(patient=world.patient)
    response = Client().get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert b"BEGIN:VEVENT" in response.content
    assert treatment_traces(world, response.content) == []


def test_a_patients_token_outside_their_own_me_returns_no_treatment_data(world):
    leaks = []
    for method, template in schema_operations():
        path = world.path_for(template)
        callers = [("B patient", world.outside_patient_user)]
        if not template.startswith("/api/v1/me/"):
            callers.append(("A patient", world.patient_user))
        for who, user in callers:
            response = call(user, method, path)
            leaks += [
                f"{who} {method} {template}: {t}" for t in treatment_traces(world, response.content)
            ]
    assert leaks == []


def test_the_guard_sees_treatment_data_where_it_is(world):
    """The check can fail: A's patient's own enrollments name the program and its level."""
    response = call(world.patient_user, "GET", "/api/v1/me/enrollments/")
    assert response.status_code == 200
    assert treatment_traces(world, response.content)
