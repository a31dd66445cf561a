"""The browsable API: served with DEBUG on only, and showing no other clinic's data."""

import pytest
from django.conf import settings

from config.settings.base import rest_renderer_classes
from tests.access_walk.helpers import (
    ADDRESSED_TO,
    ADM,
    BINARY_DOWNLOADS,
    MATRIX,
    ME,
    PUBLIC,
    World,
    call,
    debug_on,
    outside_traces,
    schema_operations,
)

pytestmark = pytest.mark.django_db


def test_the_browsable_api_is_served_with_debug_on_only():
    assert rest_renderer_classes() == ["rest_framework.renderers.JSONRenderer"]
    assert settings.REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] == rest_renderer_classes()
    assert "clinic.api.renderers.BrowsableAPIRenderer" in rest_renderer_classes(debug=True)


def test_the_browsable_api_shows_no_other_clinics_data():
    """Every GET of the schema a staff role of A may use, as HTML (DEBUG on: the browsable API
    with its filter and write forms): none of B's names, MRN or ids; and with DEBUG off the
    format is not served at all."""
    world = World()
    problems = []
    gets = [
        template
        for method, template in schema_operations()
        if method == "GET"
        and MATRIX[(method, template)] not in (PUBLIC, ME)
        and template not in BINARY_DOWNLOADS
    ]
    assert "/api/v1/enrollments/" in gets
    with debug_on():
        for template in gets:
            addressed = ADDRESSED_TO.get(("GET", template), MATRIX[("GET", template)])
            for role in sorted(addressed):
                response = call(world.staff[role], "GET", f"{world.path_for(template)}?format=api")
                page = response.content.decode()
                if response.status_code != 200 or "text/html" not in response["Content-Type"]:
                    problems.append(f"A {role:>10} {template}: {response.status_code}, no page")
                elif traces := outside_traces(page):
                    problems.append(f"A {role:>10} {template}: shows B's {traces}")
    response = call(world.staff[ADM], "GET", "/api/v1/enrollments/?format=api")
    assert response.status_code == 404, "no browsable API with DEBUG off"
    assert problems == [], "\n" + "\n".join(problems)
