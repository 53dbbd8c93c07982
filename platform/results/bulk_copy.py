"""Binary COPY of model rows on PostgreSQL: the one place that turns a model's
columns into the types COPY must be told and streams tuples through psycopg's
C dumpers (much faster than INSERT for thousands of rows). Callers keep the
bulk_create path for other databases."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from django.db import connection, models

# PostgreSQL's names of the column types (Django's db_type), as binary COPY must be told them.
_PG_TYPES = {"bigint": "int8", "integer": "int4", "double precision": "float8", "jsonb": "jsonb",
             "timestamp with time zone": "timestamptz", "uuid": "uuid", "boolean": "bool"}


@cache
def copy_types(model: type[models.Model], columns: tuple[str, ...]) -> list[str]:
    """The binary type of each column, read off the model (varchar goes as text)."""
    types = []
    for column in columns:
        db_type = model._meta.get_field(column.removesuffix("_id")).db_type(connection)
        types.append("text" if db_type.startswith("varchar") else _PG_TYPES[db_type])
    return types


def copy_sql(model: type[models.Model], columns: Sequence[str]) -> str:
    return (f'COPY "{model._meta.db_table}" (' + ", ".join(f'"{c}"' for c in columns)
            + ") FROM STDIN (FORMAT BINARY)")


def copy_into(model: type[models.Model], columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Binary COPY of rows (tuples in `columns` order) into the model's table on
    the default (PostgreSQL) connection, inside whatever transaction is open."""
    with connection.cursor() as cursor:
        # Django's cursor wrappers pass copy() through to the psycopg 3 cursor.
        with cursor.copy(copy_sql(model, columns)) as copy:
            copy.set_types(copy_types(model, columns))
            for row in rows:
                copy.write_row(row)
