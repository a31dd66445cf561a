"""Fuzzing the API against its own OpenAPI schema with Schemathesis, in-process.

The schema is loaded from the WSGI application (``/api/schema/``) and every operation gets a
property test: Schemathesis generates requests from the schema, valid and invalid (boundary
values first, then Hypothesis' random cases), they go to the Django application through WSGI,
and each response must be no server error and must match what the schema says: a documented
status code, a documented content type and a body valid against the documented response.

The callers: a clinician of the demo clinic (the access walk's world: patients, enrollments,
sessions, an aftercare plan, an alert...) on every operation, and a patient's app token on
the patient's own ``me/`` operations (boundary values and random cases) and on all the others
(a few random cases: a 403 before any input is read). Path parameters name the world's real
objects half the time, so the fuzzer gets past the 404 into the views.

The world is built once for the module in a transaction that is rolled back at the end; each
test (one per operation and caller) runs in a savepoint inside it, and each request in a
savepoint of its own, so no request changes what the next one sees and nothing outlives the
module. Examples are bounded and derandomized: every run sends the same requests.

Run it alone: ``make test PYTEST_ARGS=tests/test_schemathesis.py``. What it found is in
tests/clinic/test_far_utc_offsets.py and tests/scheduling/test_calendar_input_bounds.py.
"""

import sys

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings, strategies
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.config import SchemathesisConfig

from tests.access_walk.helpers import World, schema_operations

EXAMPLES_PER_OPERATION = 15
EXAMPLES_REFUSED = 5


class InProcessApp:
    """Django's WSGI handler as a test client runs it.

    Like Django's test client: the request_started/finished signals do not close the database
    connection (it holds the test's transaction), the whole body is read before returning, and
    an exception the view raised is re-raised here so a failing test shows its traceback
    rather than only the 500 body.
    """

    def __init__(self):
        self.handler = WSGIHandler()
        self.exception = None

    def _record(self, sender, request=None, **kwargs):
        self.exception = sys.exc_info()[1]

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        got_request_exception.connect(self._record)
        self.exception = None
        try:
            iterable = self.handler(environ, start_response)
            try:
                body = b"".join(iterable)
            finally:
                iterable.close()
        finally:
            got_request_exception.disconnect(self._record)
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        if self.exception is not None:
            raise self.exception
        return [body]


APP = InProcessApp()


def load_schema(*, coverage: bool):
    """The served schema, fuzzed in both modes (valid requests and invalid ones). With
    ``coverage``, deterministic cases come first: each parameter's and field's boundary values
    (the shortest and longest strings, the smallest and largest numbers, the first and last
    dates...). Requests with methods a path does not have are left out (Django's 405)."""
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"mode": "all"},
            "phases": {
                "coverage": {
                    "enabled": coverage,
                    "generation": {"mode": "positive"},
                    "unexpected-methods": [],
                }
            },
        }
    )
    # Collection runs before pytest-django allows the test client's host: allow the loader's.
    with override_settings(ALLOWED_HOSTS=["localhost"]):
        loaded = schemathesis.openapi.from_wsgi("/api/schema/", APP, config=config)
    loaded.hook(flatmap_path_parameters)
    return loaded


# (path template) -> {parameter: a real object's id}, filled in by the ``world`` fixture.
KNOWN_IDS: dict[str, dict[str, str]] = {}


def flatmap_path_parameters(context, path_parameters):
    """Half the cases name the world's real objects, the other half whatever was generated."""
    known = KNOWN_IDS.get(context.operation.path)
    if not known:
        return strategies.just(path_parameters)
    return strategies.sampled_from([{**path_parameters, **known}, path_parameters])


schema = load_schema(coverage=True)
MINE = r"^/api/v1/me/"
# The patient's token on the staff's operations is a 403 before any input is read: random
# cases only, and fewer.
schema_without_coverage = load_schema(coverage=False).exclude(path_regex=MINE)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The access walk's world, built once in a transaction rolled back after the module."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = World()
            for _method, template in schema_operations():
                if "{" not in template:
                    continue
                concrete = built.path_for(template).split("/")
                KNOWN_IDS[template] = {
                    part[1:-1]: concrete[i]
                    for i, part in enumerate(template.split("/"))
                    if part.startswith("{")
                }
            built.staff_token = str(RefreshToken.for_user(built.staff["clinician"]).access_token)
            built.patient_token = str(RefreshToken.for_user(built.patient_user).access_token)
            yield built
        finally:
            KNOWN_IDS.clear()
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


def fuzz_settings(max_examples: int):
    return settings(
        max_examples=max_examples,
        deadline=None,
        # The same cases on every run (CI included); no example database between runs.
        derandomize=True,
        database=None,
        suppress_health_check=[
            # All of a test's examples share the world (each request is rolled back).
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


def call_and_validate(case, token):
    """One request in a savepoint that is rolled back, then the checks on its response."""
    with transaction.atomic():
        response = case.call(
            base_url="http://testserver", headers={"Authorization": f"Bearer {token}"}
        )
        transaction.set_rollback(True)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@fuzz_settings(EXAMPLES_PER_OPERATION)
def test_api_as_staff(case, world):
    call_and_validate(case, world.staff_token)


@pytest.mark.django_db
@schema.include(path_regex=MINE).parametrize()
@fuzz_settings(EXAMPLES_PER_OPERATION)
def test_my_api_as_patient(case, world):
    call_and_validate(case, world.patient_token)


@pytest.mark.django_db
@schema_without_coverage.parametrize()
@fuzz_settings(EXAMPLES_REFUSED)
def test_other_operations_as_patient(case, world):
    call_and_validate(case, world.patient_token)
