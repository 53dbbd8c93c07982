"""What an upload must know before it writes, in one statement: the projects of
its repositories (and whether the machine is granted each), the benchmarks it
names, and the runs already stored under its idempotency keys; on PostgreSQL
also the ids its new runs will take (drawn from the run table's sequence, as
the COPY that inserts them cannot return them).

Three ORM queries cost three round trips and the CPU of building them, paid
again by every single-report upload. One UNION ALL of plain SQL (PostgreSQL and
SQLite alike) answers all three.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection

from results.models import Benchmark, Project, Run


@dataclass
class Lookup:
    projects: dict[str, tuple[str, bool]]  # repository url: (project name, granted to the machine)
    benchmarks: dict[tuple[str, str, str], int]  # (repository url, model, params hash): benchmark id
    runs: dict[uuid.UUID, int]  # idempotency key: id of the run stored under it
    new_run_ids: list[int]  # PostgreSQL: ids drawn for new runs (unused ones are gaps, as after a rollback)


def lookup(machine_id: int, urls: Iterable[str], benchmarks: Iterable[tuple[str, str, str]],
           keys: Iterable[uuid.UUID], new_runs: int = 0) -> Lookup:
    """Benchmarks are those of the default (empty) environment, as reports name
    them; `new_runs` run ids are drawn on PostgreSQL (none elsewhere)."""
    urls, benchmarks, keys = sorted(set(urls)), sorted(set(benchmarks)), list(set(keys))
    project, grant, bench, run = (model._meta.db_table for model in (Project, Project.machines.through, Benchmark, Run))
    key_field = Run._meta.get_field("idempotency_key")
    parts = [
        f"SELECT 'p', p.repository_url, p.name, NULL, CASE WHEN EXISTS (SELECT 1 FROM {grant} g "
        f"WHERE g.project_id = p.id AND g.machine_id = %s) THEN 1 ELSE 0 END "
        f"FROM {project} p WHERE p.repository_url IN ({_marks(urls)})",
        f"SELECT 'r', CAST(r.idempotency_key AS TEXT), NULL, NULL, r.id FROM {run} r "
        f"WHERE r.idempotency_key IN ({_marks(keys)})",
    ]
    params = [machine_id, *urls, *(key_field.get_db_prep_value(key, connection) for key in keys)]
    if benchmarks:
        match = " OR ".join(["(p.repository_url = %s AND b.model = %s AND b.params_hash = %s)"] * len(benchmarks))
        parts.append(f"SELECT 'b', p.repository_url, b.model, b.params_hash, b.id FROM {bench} b "
                     f"JOIN {project} p ON p.id = b.project_id WHERE b.environment = '' AND ({match})")
        params += [value for key in benchmarks for value in key]
    if new_runs and connection.vendor == "postgresql":
        sequence = f"pg_get_serial_sequence('{run}', '{Run._meta.pk.column}')"
        parts.append(f"SELECT 'i', NULL, NULL, NULL, nextval({sequence}) FROM generate_series(1, %s)")
        params.append(new_runs)
    found = Lookup({}, {}, {}, [])
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for kind, a, b, c, n in cursor.fetchall():
            if kind == "p":
                found.projects[a] = (b, bool(n))
            elif kind == "r":
                found.runs[uuid.UUID(a)] = n
            elif kind == "i":
                found.new_run_ids.append(n)
            else:
                found.benchmarks[(a, b, c)] = n
    return found


def _marks(values: list) -> str:
    return ", ".join(["%s"] * len(values)) or "NULL"  # IN (NULL) matches nothing
