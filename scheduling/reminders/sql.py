"""How the outbox's statements reach PostgreSQL cheaply: ids and texts as one array literal.

Plain statements, not ``PREPARE``d ones: behind PgBouncer's transaction pooling a statement
prepared on one server connection is missing on the next. Their plans are custom ones, made at
each execution either way, so preparing would save only the parsing (~0.1 ms a statement).
"""


def array_literal(ids) -> str:
    # One array literal ('{1,2,…}'): psycopg2 would send a list as ARRAY[1, 2, …], an
    # expression of one node per id that PostgreSQL parses and plans (~0.2 s for 100,000).
    return "{" + ",".join(map(str, ids)) + "}"


def text_array_literal(values) -> str:
    """One array literal of texts (``None``: NULL), each element quoted: see ``array_literal``
    (five lists of a group's outcomes as ``ARRAY[…]`` cost about a tenth of recording them)."""
    return (
        "{"
        + ",".join(
            "NULL"
            if value is None
            else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for value in values
        )
        + "}"
    )
