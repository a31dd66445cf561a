from rest_framework import pagination
from rest_framework.exceptions import NotFound


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"next", "previous", "results"}``; ``?page_size=`` up to 200 (DESIGN.md)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_paginated_response(self, data):
        from rest_framework.response import Response

        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


# The largest OFFSET/LIMIT PostgreSQL takes (a bigint).
_MAX_ROWS = 2**63 - 1


class _UncountedPage:
    """What ``get_next_link``/``get_previous_link`` ask of a page, without a row count."""

    def __init__(self, number: int, more: bool):
        self.number = number
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


class UncountedPageNumberPagination(PageNumberPagination):
    """The same pages, links and 404s as ``PageNumberPagination`` without its ``COUNT(*)``.

    The response shape has no ``count``: reading ``page_size + 1`` rows says whether a next page
    exists. A page past the last one is a 404 ("Invalid page.") as with Django's paginator (the
    first page may be empty); ``?page=last`` needs the count and takes the counting path.
    """

    def rows_needed(self, request) -> int | None:
        """How many rows from the start this request's page reads (its offset, its size and one
        more), or None when that takes a count (``?page=last``) or the page is invalid."""
        try:
            number = int(request.query_params.get(self.page_query_param) or 1)
        except (TypeError, ValueError):
            return None
        if number < 1 or number * self.get_page_size(request) + 1 > _MAX_ROWS:
            return None
        return number * self.get_page_size(request) + 1

    def paginate_queryset(self, queryset, request, view=None):
        page_number = request.query_params.get(self.page_query_param) or 1
        if page_number in self.last_page_strings:
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        page_size = self.get_page_size(request)
        try:
            # Django's Paginator.validate_number: int() of the text, from 1.
            number = int(page_number)
        except (TypeError, ValueError):
            number = 0
        offset = (number - 1) * page_size
        if number < 1 or offset + page_size + 1 > _MAX_ROWS:
            # (No table holds more rows than a bigint counts: past the last page.)
            raise NotFound(self.invalid_page_message)
        rows = list(queryset[offset : offset + page_size + 1])
        if not rows and number > 1:
            raise NotFound(self.invalid_page_message)
        self.page = _UncountedPage(number, more=len(rows) > page_size)
        del rows[page_size:]
        return rows
