"""Row serialization helpers write what DRF's fields write."""

import datetime
import json
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from clinic.api.renderers import ORJSONRenderer
from clinic.api.utils import datetime_text, datetime_writer

MOMENTS = [
    datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC),
    datetime.datetime(2026, 7, 1, 15, 30, 5, 123456, tzinfo=datetime.UTC),
    datetime.datetime(2026, 7, 1, 9, tzinfo=zoneinfo.ZoneInfo("America/New_York")),
    None,
]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Europe/London", "Asia/Kolkata"])
@pytest.mark.parametrize("renderer", [ORJSONRenderer, JSONRenderer])
def test_datetimes_are_written_as_drfs_datetime_field_writes_them(zone, renderer):
    # What reaches the client is the rendered JSON: for UTC the writer hands the renderer the
    # datetime itself, which both renderers must write as DateTimeField's text.
    field = serializers.DateTimeField()
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        text = datetime_writer()
        for moment in MOMENTS:
            expected = field.to_representation(moment)
            rendered = renderer().render({"at": text(moment)})
            assert json.loads(rendered) == {"at": expected}, (zone, moment)
            assert datetime_text(moment, timezone.get_current_timezone()) == expected
