"""Lists read as rows: a read-only serializer is the row's one definition.

Its fields name the columns (each field's ``source`` as an ORM path, read with
``values_list``) and the items (the field names, datetimes written as the serializer writes
them), so a hot list skips a model instance and a serializer field call per value without a
second description of what it shows.
"""

from rest_framework import serializers

from clinic.api.utils import datetime_writer


class SerializerRows:
    """The rows of an output ``serializer_class`` whose every field has a plain ``source``: a
    model field, an annotation, or a path through foreign keys."""

    def __init__(self, serializer_class):
        fields = serializer_class().fields
        for name, field in fields.items():
            if field.source == "*":
                raise TypeError(f"{serializer_class.__name__}.{name} is not a column.")
        self.names = tuple(fields)
        self.columns = tuple(field.source.replace(".", "__") for field in fields.values())
        self.datetimes = tuple(
            name for name, field in fields.items() if isinstance(field, serializers.DateTimeField)
        )

    def values_list(self, queryset, *extra: str):
        """``queryset``'s rows: the serializer's columns, then ``extra`` ones (for the caller's
        own use, e.g. an audit row; left out of the items)."""
        return queryset.values_list(*self.columns, *extra)

    def items(self, rows) -> list[dict]:
        """The items the serializer would show for these rows."""
        text = datetime_writer()
        names, datetimes = self.names, self.datetimes
        items = []
        for row in rows:
            # (Extra columns trail the serializer's: zip stops at the last name.)
            item = dict(zip(names, row, strict=False))
            for name in datetimes:
                item[name] = text(item[name])
            items.append(item)
        return items
