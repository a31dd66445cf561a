"""Changes announced (issue 20): CHANGELOG.md's newest entry is the schema's ``info.version``, and
what is to be removed is marked ``deprecated: true`` in the schema, named with its removal
version, and announced in the changelog first."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client as DjangoClient
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.schema import deprecation

CHANGELOG = Path(settings.BASE_DIR) / "CHANGELOG.md"
VERSION_HEADING = re.compile(r"^## (\d+)\.(\d+)\.(\d+)\b", re.MULTILINE)
DEPRECATION = re.compile(r"Deprecated in (\d+\.\d+\.\d+), removed in (\d+\.\d+\.\d+)")


def semver(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def changelog_versions() -> list[tuple[int, ...]]:
    return [tuple(map(int, match)) for match in VERSION_HEADING.findall(CHANGELOG.read_text())]


def changelog_entry(version: str) -> str:
    text = CHANGELOG.read_text()
    start = re.search(rf"^## {re.escape(version)}\b.*$", text, re.MULTILINE)
    assert start, f"CHANGELOG.md has no entry for {version}"
    following = VERSION_HEADING.search(text, start.end())
    return text[start.end() : following.start() if following else len(text)]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return DjangoClient().get("/api/schema/", {"format": "json"}).json()


def test_the_schemas_version_is_the_changelogs_newest(schema):
    versions = changelog_versions()

    assert versions, "CHANGELOG.md has no version heading"
    assert semver(schema["info"]["version"]) == versions[0]
    assert versions == sorted(versions, reverse=True), "newest version first"


def deprecated_items(schema):
    """(name, description) of every deprecated field and operation of the schema."""
    for component, body in schema["components"]["schemas"].items():
        for name, field in body.get("properties", {}).items():
            if field.get("deprecated"):
                yield f"{component}.{name}", name, field.get("description", "")
    for route, operations in schema["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and operation.get("deprecated"):
                yield f"{method.upper()} {route}", route, operation.get("description", "")


def test_what_is_deprecated_names_its_removal_a_version_ahead_and_is_announced(schema):
    current = semver(schema["info"]["version"])
    items = list(deprecated_items(schema))

    assert items, "nothing is deprecated: the check below would pass vacuously"
    for where, name, description in items:
        found = DEPRECATION.search(description)
        assert found, f"{where}: the description does not say when it goes"
        since, removal = map(semver, found.groups())
        assert since <= current < removal, f"{where}: removed before a version of deprecation"
        assert name in deprecated_section(found.group(1)), (
            f"{where}: not announced under Deprecated in CHANGELOG.md {found.group(1)}"
        )


def deprecated_section(version: str) -> str:
    _, found, rest = changelog_entry(version).partition("### Deprecated")
    assert found, f"CHANGELOG.md {version} has no Deprecated section"
    return rest.split("\n### ", 1)[0]


def test_me_enrollments_offer_expires_at_is_deprecated_for_offer_expires_at(schema):
    field = schema["components"]["schemas"]["MyEnrollment"]["properties"]["offer_expires_at"]

    assert field["deprecated"] is True
    assert "use `offer.expires_at` instead" in field["description"]


# The mechanism, on a throwaway view: an operation and a field marked as the policy says.


@extend_schema_serializer(deprecate_fields=["old_name"])
class ThrowawaySerializer(serializers.Serializer):
    name = serializers.CharField()
    old_name = serializers.CharField(
        help_text="The name. " + deprecation(since="1.1.0", removal="1.2.0", instead="`name`")
    )


class ThrowawayView(APIView):
    @extend_schema(
        responses=ThrowawaySerializer,
        deprecated=True,
        description=deprecation(since="1.1.0", removal="1.2.0", instead="`GET /things/`"),
    )
    def get(self, request):
        return Response({})


def test_the_mechanism_marks_an_operation_and_a_field_deprecated_in_the_schema():
    generated = SchemaGenerator(
        patterns=[path("api/v1/throwaway/", ThrowawayView.as_view())]
    ).get_schema(request=None, public=True)

    operation = generated["paths"]["/api/v1/throwaway/"]["get"]
    assert operation["deprecated"] is True
    fields = generated["components"]["schemas"]["Throwaway"]["properties"]
    assert fields["old_name"]["deprecated"] is True
    assert "deprecated" not in fields["name"]
    assert DEPRECATION.search(fields["old_name"]["description"]).groups() == ("1.1.0", "1.2.0")
    # The project's hook still documents the errors of a deprecated operation.
    assert "500" in operation["responses"]
