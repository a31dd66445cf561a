"""A JSON renderer for the hot list endpoints: orjson instead of the standard library's json.

The output parses to the same content as DRF's ``JSONRenderer``: compact UTF-8, with U+2028 and
U+2029 escaped like DRF does. Anything orjson does not take (a ``Decimal``, a lazy string, an
indent asked for by the Accept header or
the browsable API) goes through DRF's own renderer.

And the browsable API that ``DEBUG`` adds (``config.settings.base.rest_renderer_classes``).
"""

import orjson
from rest_framework import renderers
from rest_framework.renderers import JSONRenderer


class ORJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            # UTC datetimes with "Z", as DRF's DateTimeField and encoder write them.
            body = orjson.dumps(data, option=orjson.OPT_UTC_Z)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)
        # DRF escapes these two for JavaScript's sake (JSONP): the same bytes here.
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body


def orjson_first(renderer_classes) -> list:
    """``renderer_classes`` with ``ORJSONRenderer`` in place of DRF's JSON renderer."""
    return [ORJSONRenderer, *(r for r in renderer_classes if not issubclass(r, JSONRenderer))]


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's browsable API (DEBUG only), read-only: no edit forms, which DRF builds from the
    view's own serializer and object and so gets wrong for actions on a record's children (a
    contact rendered as a patient); and also for views without filters whose rows are no one
    queryset (the reports read their own query serializer): DRF asks those for a queryset all
    the same."""

    def get_rendered_html_form(self, data, view, method, request):
        return None

    def get_raw_data_form(self, data, view, method, request):
        return None

    def get_filter_form(self, data, view, request):
        if not getattr(view, "filter_backends", None):
            return None
        return super().get_filter_form(data, view, request)
