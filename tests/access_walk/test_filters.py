"""Filters answer another clinic's ids as missing ones, and none offers every clinic's rows."""

import pytest
from django_filters.filters import QuerySetRequestMixin

from tests.access_walk.helpers import (
    FILTER_TARGETS,
    MISSING_ID,
    OUTSIDE_IDS,
    STAFF_ROLES,
    World,
    api_view_classes,
    call,
    id_filters,
    outside_traces,
)

pytestmark = pytest.mark.django_db


def test_filters_answer_another_clinics_ids_as_missing_ones():
    """Each id filter of a list, pointed at B's object and at an id nobody has, as each staff
    role of A: the same status and body (no existence oracle), and nothing of B in it."""
    world = World()
    filters = id_filters()
    assert ("/api/v1/enrollments/", "patient") in filters
    unknown = sorted({name for _, name in filters} - FILTER_TARGETS.keys())
    assert unknown == [], "filters without a clinic-B object to aim at"
    problems = []
    for template, name in filters:
        path = world.path_for(template)
        outside_id = OUTSIDE_IDS[FILTER_TARGETS[name]]
        for role in STAFF_ROLES:
            user = world.staff[role]
            outside = call(user, "GET", f"{path}?{name}={outside_id}")
            missing = call(user, "GET", f"{path}?{name}={MISSING_ID}")
            answers = [(r.status_code, r.json() if r.content else None) for r in (outside, missing)]
            if answers[0] != answers[1]:
                problems.append(
                    f"A {role:>10} {template}?{name}=: B's id {answers[0]}, missing {answers[1]}"
                )
            if traces := outside_traces(outside.content.decode()):
                problems.append(f"A {role:>10} {template}?{name}=: shows B's {traces}")
    assert problems == [], "\n" + "\n".join(problems)


def test_no_filter_offers_every_clinics_rows():
    """A model-choice filter lists its queryset in the browsable API's form and validates ids
    against it: none may take a plain queryset (all clinics' rows). A new one scopes its choices
    to the caller with a callable of the request."""
    filtered = [
        view
        for view in api_view_classes()
        if getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None)
    ]
    assert {view.__name__ for view in filtered} >= {"EnrollmentViewSet", "AuditEventViewSet"}
    unscoped = []
    for view in filtered:
        # Filters made from field names are model-choice filters over all rows.
        if getattr(view, "filterset_fields", None):
            unscoped.append(f"{view.__name__}.filterset_fields")
            continue
        for name, declared in view.filterset_class.base_filters.items():
            choices = getattr(declared, "queryset", None)
            if isinstance(declared, QuerySetRequestMixin) and not callable(choices):
                unscoped.append(f"{view.__name__}.{name}")
    assert unscoped == []
