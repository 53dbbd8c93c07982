"""Import an asv results directory (on disk, or in a git branch) as end-to-end series.

Each (benchmark, param combination, commit, environment) becomes one Run with
no layers, under a Benchmark of that name, params and environment (asv's
env_name, which names the Python): each environment is a series of its own,
as asv plots them. Only "time" benchmarks are imported: Run stores seconds.

Speed: files are parsed in memory and stored BATCH_RESULTS results per
transaction: one query for the keys already stored, one bulk insert of the new
benchmarks, one binary COPY of the runs on PostgreSQL (bulk_create elsewhere),
and one upsert of their series in the catalogue. No signal per run: change
detection runs once at the end, over every series the import holds
(`runs_imported`, answered by the regressions app), never per run.

Resumable and idempotent: each run's idempotency key is derived from what
identifies the result, and a batch commits whole, so an interrupted import run
again stores the rest and a repeated one stores nothing.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from fleet.models import Machine
from results.asv_files import (
    AsvFormatError,
    AsvResultFile,
    machine_hardware,
    read_benchmarks,
    read_config,
    read_machine,
    read_result_file,
)
from results.asv_source import DirectorySource, GitSource
from results.bulk_copy import copy_into, insert_rows
from results.canonical import canonical_json, sha256_of_canonical
from results.catalogue import add_end_to_end_points
from results.models import Benchmark, Project, Run, normalize_repository
from results.signals import send_runs_imported

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "asv"
# Fixed namespace: the same asv result always maps to the same run key.
IDEMPOTENCY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://roofwatch/asv-import")
BATCH_RESULTS = 20_000  # results stored per transaction
KEY_QUERY_CHUNK = 5_000  # idempotency keys per "already stored?" query (SQLite's bound parameters)
# The Run columns the import writes, in the order _run_row gives them (the others are null or take
# their database default).
RUN_COLUMNS = (
    "idempotency_key", "payload_sha256", "machine_id", "benchmark_id", "model_version", "config", "config_hash",
    "commit", "branch", "commit_time", "ci_url", "started_at", "received_at", "warmup", "repeats",
    "median", "p25", "p75", "min", "n", "catalogued", "purpose",
)


@dataclass
class ImportSummary:
    files: int = 0  # result files read (machine.json and benchmarks.json not counted)
    imported: int = 0  # runs stored
    existing: int = 0  # results already stored (an earlier import)
    failed_results: int = 0  # null or NaN results: asv's failed or skipped measurements
    not_time: int = 0  # memory and tracking benchmarks (not seconds)
    parameterized: int = 0  # of the results read, those of parameterized benchmarks
    version_changes: int = 0  # times a benchmark's version changed along a series' commits
    benchmarks_created: int = 0
    series: int = 0  # series (machine, benchmark, params, environment) the import holds
    detected: bool = False  # whether the detection sweep ran
    alerts: int = 0  # alerts the detection sweep wrote
    detect_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # one per file that failed: its path and the reason

    @property
    def skipped(self) -> int:
        return self.failed_results + self.not_time

    @property
    def failed(self) -> int:
        return len(self.errors)

    def line(self) -> str:
        return (f"{self.files} files: {self.imported} results imported, {self.existing} already there, "
                f"{self.skipped} skipped ({self.failed_results} null or failed, {self.not_time} not time), "
                f"{self.failed} files failed; {self.parameterized} parameterized results, "
                f"{self.version_changes} benchmark version changes; {self.series} series, "
                + (f"detection: {self.alerts} alerts in {self.detect_seconds:.1f} s" if self.detected
                   else "no detection"))


class Progress:
    """What the import reports as it goes (a progress bar on a terminal): files
    read, results read and results stored (after each batch commits). The
    default reports nothing."""

    def start(self, files: int) -> None: ...
    def file_done(self, results: int) -> None: ...
    def stored(self, results: int) -> None: ...
    def detecting(self, series: int) -> Callable[[int], None]:
        return lambda done: None
    def close(self) -> None: ...


def idempotency_key(machine: str, benchmark: str, params: dict, commit: str, env_name: str) -> uuid.UUID:
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, canonical_json([machine, benchmark, params, commit, env_name]))


def _spelt_key(machine_json: str, benchmark_json: str, params_json: str, commit_json: str,
               env_json: str) -> uuid.UUID:
    """idempotency_key from its parts' canonical JSON, spelt once per file or benchmark (the
    text canonical_json of the list would give: its items joined by commas, in brackets)."""
    text = f"[{machine_json},{benchmark_json},{params_json},{commit_json},{env_json}]"
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, text)


def open_source(path: str | Path, branch: str | None = None, subdir: str | None = None):
    """A results directory, or (with `branch`) the results in that branch of the git repository at `path`."""
    return GitSource(path, branch, subdir) if branch else DirectorySource(path)


def default_project_name(source) -> str:
    """asv.conf.json's "project" when the results directory sits next to it."""
    found = source.config()
    if found is not None:
        name = read_config(*found).get("project")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return DEFAULT_PROJECT


def project_named(name: str) -> Project:
    """The project of that name (or repository URL); created when missing."""
    url = normalize_repository(name)
    project = Project.objects.filter(name=name).first() or Project.objects.filter(repository_url=url).first()
    if project is None:
        project, _ = Project.objects.get_or_create(name=name[:200], defaults={"repository_url": url})
    return project


def machine_named(name: str, hardware: dict[str, Any]) -> Machine:
    """The machine of that name, created without a token when missing; blank
    hardware fields are filled, values an agent reported are left alone."""
    machine, _ = Machine.objects.get_or_create(name=name)
    changed = [k for k, v in hardware.items() if v not in (None, "") and getattr(machine, k) in (None, "")]
    for key in changed:
        setattr(machine, key, hardware[key])
    if changed:
        machine.save(update_fields=changed)
    return machine


def import_asv_results(
    source, project: str | None = None, machine: str | None = None, detect: bool = True,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every result file of an asv results source (DirectorySource,
    GitSource, or a directory path).

    project: the project to file the benchmarks under (default: asv.conf.json's
    "project" next to the results, else "asv"). machine: store the runs under
    this machine name instead of asv's (the source must then hold one asv
    machine). detect: run change detection over the imported series at the end.

    A malformed or truncated file is reported in summary.errors (its path and
    the reason) and nothing of it is written; the import goes on. benchmarks.json
    missing or broken raises AsvFormatError before anything is written.
    """
    if isinstance(source, (str, Path)):
        source = DirectorySource(source)
    progress = progress or Progress()
    try:
        return _import(source, project, machine, detect, progress)
    finally:
        progress.close()
        source.close()


def _import(source, project: str | None, machine: str | None, detect: bool, progress: Progress) -> ImportSummary:
    paths = source.files()
    if "benchmarks.json" not in paths:
        raise AsvFormatError(source.label("benchmarks.json"),
                             "not found; is this an asv results directory (asv.conf.json's results_dir)?")
    benchmarks = read_benchmarks(source.label("benchmarks.json"), source.read("benchmarks.json"))
    by_machine: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        if "/" in path and not path.endswith("/machine.json"):
            by_machine[path.split("/")[0]].append(path)
    if machine and len(by_machine) > 1:
        raise AsvFormatError(source.label(""), f"holds results of several asv machines ({', '.join(by_machine)}); "
                             "--machine renames exactly one")
    writer = _Writer(project_named(project or default_project_name(source)), progress)
    summary = writer.summary
    progress.start(sum(len(files) for files in by_machine.values()))
    for asv_machine, files in sorted(by_machine.items()):
        info: dict | None = None
        machine_json = f"{asv_machine}/machine.json"
        if machine_json in paths:
            try:
                info = read_machine(source.label(machine_json), source.read(machine_json))
            except AsvFormatError as exc:
                summary.errors.append(str(exc))
        target: Machine | None = None
        for path in files:
            summary.files += 1
            label = source.label(path)
            try:
                result = read_result_file(label, _read(source, path), benchmarks)
            except AsvFormatError as exc:
                log.warning("skipped %s", exc)
                summary.errors.append(str(exc))
                progress.file_done(0)
                continue
            if target is None:
                target = machine_named(machine or asv_machine, machine_hardware(info or result.machine))
            log.debug("read %s: %d results", label, len(result.points))
            writer.add(target, result)
            progress.file_done(len(result.points))
    writer.flush()
    summary.version_changes = sum(len(versions) - 1 for versions in writer.versions.values())
    summary.series = len(writer.series)
    if detect and writer.series:
        started = time.perf_counter()
        summary.alerts = send_runs_imported(sorted(writer.series), progress.detecting(len(writer.series)))
        summary.detect_seconds, summary.detected = time.perf_counter() - started, True
    return summary


def _read(source, path: str) -> bytes:
    try:
        return source.read(path)
    except OSError as exc:
        raise AsvFormatError(source.label(path), f"cannot be read: {exc.strerror or exc}") from None


class _Writer:
    """Collects parsed files and stores them BATCH_RESULTS results per transaction."""

    def __init__(self, project: Project, progress: Progress):
        self.project, self.progress = project, progress
        self.summary = ImportSummary()
        self.pending: list[tuple[Machine, AsvResultFile]] = []
        self.pending_results = 0
        # (model, params_hash, environment) -> benchmark id, loaded once: the project's benchmarks
        self.benchmarks = {
            (model, params_hash, environment): pk for pk, model, params_hash, environment in
            Benchmark.objects.filter(project=project).values_list("pk", "model", "params_hash", "environment")
        }
        self.params_hashes: dict[str, str] = {}
        self.series: set[tuple[int, int]] = set()  # (machine id, benchmark id) of every result read
        self.versions: dict[tuple, set[str]] = defaultdict(set)  # (machine, benchmark, env) -> versions seen

    def add(self, machine: Machine, result: AsvResultFile) -> None:
        self.pending.append((machine, result))
        self.pending_results += len(result.points)
        self.summary.failed_results += result.failed
        self.summary.not_time += result.not_time
        if self.pending_results >= BATCH_RESULTS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with transaction.atomic():
            self._store(self.pending)
        self.progress.stored(self.pending_results)
        self.pending, self.pending_results = [], 0

    def _params_hash(self, params_json: str) -> str:
        found = self.params_hashes.get(params_json)
        if found is None:
            found = self.params_hashes[params_json] = sha256_of_canonical(params_json)
        return found

    def _store(self, files: list[tuple[Machine, AsvResultFile]]) -> None:
        keyed = []  # (machine, file, point, key, benchmark key)
        names: dict[str, str] = {}
        for machine, result in files:
            machine_json, commit_json = canonical_json(machine.name), canonical_json(result.commit)
            env_json = canonical_json(result.env_name)
            for point in result.points:
                name_json = names.get(point.benchmark) or names.setdefault(point.benchmark,
                                                                             canonical_json(point.benchmark))
                key = _spelt_key(machine_json, name_json, point.params_json, commit_json, env_json)
                benchmark = (point.benchmark, self._params_hash(point.params_json), result.environment)
                keyed.append((machine, result, point, key, benchmark))
                self.versions[machine.pk, point.benchmark, result.environment].add(point.version)
                if point.params:
                    self.summary.parameterized += 1
        stored = _stored_keys([k for *_, k, _ in keyed])
        self._create_benchmarks({b: p.params for _, _, p, _, b in keyed if b not in self.benchmarks})
        now = timezone.now()
        rows, series, configs = [], {}, {}
        for machine, result, point, key, benchmark in keyed:
            benchmark_id = self.benchmarks[benchmark]
            self.series.add((machine.pk, benchmark_id))
            if key in stored:
                self.summary.existing += 1
                continue
            stored.add(key)  # the same result twice in one batch is stored once
            config = configs.get(id(result))
            if config is None:
                spelt = canonical_json(result.config)
                config = configs[id(result)] = (result.config, sha256_of_canonical(spelt), spelt)
            rows.append(_run_row(key, machine.pk, benchmark_id, result, point, config, now))
            group = (machine.pk, benchmark_id)
            first, last, count = series.get(group, (result.date, result.date, 0))
            series[group] = (min(first, result.date), max(last, result.date), count + 1)
        _insert_runs(rows)
        add_end_to_end_points(series)
        self.summary.imported += len(rows)

    def _create_benchmarks(self, new: dict[tuple[str, str, str], dict]) -> None:
        if not new:
            return
        created = Benchmark.objects.bulk_create([
            Benchmark(project=self.project, model=model, params=params, params_hash=params_hash,
                      environment=environment)
            for (model, params_hash, environment), params in new.items()
        ])
        for benchmark in created:
            self.benchmarks[benchmark.model, benchmark.params_hash, benchmark.environment] = benchmark.pk
        self.summary.benchmarks_created += len(created)


def _stored_keys(keys: list[uuid.UUID]) -> set[uuid.UUID]:
    stored = set()
    for start in range(0, len(keys), KEY_QUERY_CHUNK):
        chunk = keys[start:start + KEY_QUERY_CHUNK]
        stored.update(Run.objects.filter(idempotency_key__in=chunk).values_list("idempotency_key", flat=True))
    return stored


def _run_row(key: uuid.UUID, machine_id: int, benchmark_id: int, result: AsvResultFile, point, config: tuple,
             now: datetime) -> tuple:
    """A run as a tuple in RUN_COLUMNS order; config: (the file's config, its hash, its canonical JSON)."""
    # canonical_sha256([median, p25, p75, min, n, version, config]), with the config spelt once per file
    head = canonical_json([point.median, point.p25, point.p75, point.min, point.n, point.version])
    payload = sha256_of_canonical(f"{head[:-1]},{config[2]}]")
    # started_at is asv's commit date: series follow commit order, as asv plots them. asv measures no roofline.
    return (key, payload, machine_id, benchmark_id, point.version, config[0], config[1],
            result.commit, "", result.date, "", result.date, now, 0, point.n,
            point.median, point.p25, point.p75, point.min, point.n, True, "")


def _insert_runs(rows: list[tuple]) -> None:
    """One binary COPY on PostgreSQL; one executemany INSERT elsewhere. Runs go in
    catalogued: the caller adds their points to the catalogue in the same transaction."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        copy_into(Run, RUN_COLUMNS, rows)
        return
    insert_rows(Run, RUN_COLUMNS, rows)
