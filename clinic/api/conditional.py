"""ETag and If-Match on the records staff edit concurrently (RFC 9110 §8.8.3, §13.1.1).

A versioned record's detail response (its GET, and the answer of a write) carries
``ETag: "<id>-<version>"``. A PATCH or DELETE may send it back in ``If-Match``; the service
compares it with the record's version under the row lock (``clinic.versions``) and answers 412
``precondition_failed`` when the record changed since. No ``If-Match`` (old clients) or
``If-Match: *`` means no precondition. ``If-Match`` uses the strong comparison: a weak tag
(``W/"…"``) never matches.
"""

from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from clinic.versions import etag


def expected_versions(request, obj) -> frozenset[int] | None:
    """The versions of ``obj`` that the request's ``If-Match`` accepts; ``None`` for any."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_etags(header)
    if "*" in tags:
        return None
    prefix = f'"{obj.pk}-'
    versions = set()
    for tag in tags:
        # Another record's tag, a weak one or garbage matches no version: a 412, as RFC 9110
        # asks of an If-Match that matches no current representation.
        if tag.startswith(prefix) and tag.endswith('"') and tag[len(prefix) : -1].isdigit():
            versions.add(int(tag[len(prefix) : -1]))
    return frozenset(versions)


def with_etag(response, obj):
    response["ETag"] = etag(obj)
    return response


# Schema -------------------------------------------------------------------------------------------

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        'The `ETag` of the record as you read it (e.g. `"12-3"`): the write is refused with '
        "412 `precondition_failed` if the record changed since. Leave it out (or send `*`) to "
        "write whatever the current version is."
    ),
)

ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description='The record\'s version (`"<id>-<version>"`); send it back in `If-Match`.',
)
