"""The orjson renderer of the hot lists renders what DRF's JSON renderer renders."""

import decimal
import json

import pytest
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer

from clinic.api.renderers import ORJSONRenderer, orjson_first

DATA = {
    "next": "http://testserver/api/v1/sessions/?page=2&page_size=3",
    "previous": None,
    "results": [
        {
            "id": 1,
            "title": "Relapse prevention — évening group 日本",
            "detached": False,
            "adherence": 0.8333333333333334,
            "flags": ["ready_for_step_down"],
            "big": 2**53 + 1,
            "note": "line\u2028separator\u2029paragraph",
            "quote": 'a "quoted" \\ back\\slash\n\t',
        }
    ],
}


def test_the_same_bytes_as_drfs_json_renderer():
    assert ORJSONRenderer().render(DATA) == JSONRenderer().render(DATA)
    assert ORJSONRenderer().render(None) == JSONRenderer().render(None) == b""


@pytest.mark.parametrize(
    ("data", "media_type", "context"),
    [
        ({"hours": decimal.Decimal("1.50")}, None, None),  # what orjson does not take
        (DATA, "application/json; indent=4", None),
        (DATA, None, {"indent": 2}),  # the browsable API asks for an indent
    ],
)
def test_what_orjson_does_not_do_goes_through_drf(data, media_type, context):
    rendered = ORJSONRenderer().render(data, media_type, context)

    assert rendered == JSONRenderer().render(data, media_type, context)
    assert json.loads(rendered)


def test_orjson_first_replaces_the_json_renderer():
    assert orjson_first([JSONRenderer, BrowsableAPIRenderer]) == [
        ORJSONRenderer,
        BrowsableAPIRenderer,
    ]
