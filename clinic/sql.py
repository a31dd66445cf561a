"""Hand-written SQL that names tables and columns through the models' ``_meta``.

A statement template names a table ``{r}`` and its columns ``{r.field}``; ``statement`` fills
them from the models, so a renamed table or column changes the SQL with it (and a misspelt
field fails at import, not in production).
"""

from django.db.models import Model


class Table:
    """A model's table in a template: ``{t}`` is ``table alias`` (or the bare table name without
    an alias), ``{t.field}`` the field's column, qualified by the alias when there is one (a
    field's name or attname: ``{t.session}`` and ``{t.session_id}`` are both ``session_id``)."""

    def __init__(self, model: type[Model], alias: str | None = None):
        self._meta = model._meta
        self._alias = alias

    def __format__(self, spec: str) -> str:
        table = self._meta.db_table
        return f"{table} {self._alias}" if self._alias else table

    def __getattr__(self, name: str) -> str:
        column = self._meta.get_field(name).column
        return f"{self._alias}.{column}" if self._alias else column


def statement(template: str, **names: Table | str) -> str:
    """``template`` with its ``{name}`` and ``{name.field}`` filled from ``names``' tables (a
    string for a shared fragment)."""
    return template.format(**names)
