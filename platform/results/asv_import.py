"""Import an asv results directory as end-to-end series.

asv (0.6) writes, under its results_dir:
    benchmarks.json                     every benchmark: type, unit, params, param_names
    <machine>/machine.json              the machine: cpu, num_cpu, ram, os, arch
    <machine>/<commit[:8]>-<env>.json   one commit in one environment, format version 2

A version-2 result file holds "result_columns" (names such as "result",
"params", "stats_q_25") and "results": {benchmark: [one value per column]},
trailing None columns dropped. "result" and every stats column are lists with
one entry per combination of the benchmark's params (itertools.product order);
param values are Python reprs ("10", "'list'").

Each (benchmark, param combination, commit, environment) becomes one Run with
no layers. Its idempotency key is derived from those, so importing a directory
twice adds nothing. Only "time" benchmarks are imported: Run stores seconds.
"""
from __future__ import annotations

import ast
import itertools
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone
from functools import partial
from pathlib import Path
from typing import Any

from django.db import transaction

from fleet.models import Machine
from results.canonical import canonical_json, canonical_sha256
from results.models import Benchmark, Project, Run, normalize_repository
from results.signals import send_run_ingested

RESULT_FORMAT_VERSION = 2
DEFAULT_PROJECT = "asv"
# Fixed namespace: the same asv result always maps to the same run key.
IDEMPOTENCY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://roofwatch/asv-import")
MODEL_MAX_LENGTH = Benchmark._meta.get_field("model").max_length
COMMIT_MAX_LENGTH = Run._meta.get_field("commit").max_length
RAM_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class AsvFormatError(ValueError):
    """An asv file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path


@dataclass(frozen=True)
class AsvPoint:
    """One measured value of one benchmark at one param combination."""

    benchmark: str
    params: dict[str, Any]
    median: float
    p25: float
    p75: float
    min: float
    n: int
    version: str


@dataclass(frozen=True)
class AsvResultFile:
    path: Path
    commit: str
    env_name: str
    date: datetime
    config: dict
    points: list[AsvPoint]
    skipped: int  # failed measurements and benchmarks other than "time"


@dataclass
class ImportSummary:
    files: int = 0
    created: int = 0
    existing: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


# --- reading asv's files (no database) -------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    try:
        # asv writes Infinity for unbounded confidence intervals; Python's json reads it.
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AsvFormatError(path, f"cannot be read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AsvFormatError(path, f"is not valid JSON: {exc}") from None


def read_benchmarks(results_dir: Path) -> dict[str, dict]:
    """benchmarks.json as {name: description}."""
    path = results_dir / "benchmarks.json"
    if not path.is_file():
        raise AsvFormatError(path, "not found; is this an asv results directory (asv.conf.json's results_dir)?")
    data = load_json(path)
    if not isinstance(data, dict):
        raise AsvFormatError(path, f"expected a JSON object, got {type(data).__name__}")
    benchmarks = {name: desc for name, desc in data.items() if name != "version"}
    for name, desc in benchmarks.items():
        if not isinstance(desc, dict):
            raise AsvFormatError(path, f"benchmark {name!r}: expected an object, got {type(desc).__name__}")
    return benchmarks


def read_machine(machine_dir: Path) -> dict[str, Any]:
    """machine.json's fields, or {} when asv wrote none."""
    path = machine_dir / "machine.json"
    if not path.is_file():
        return {}
    data = load_json(path)
    if not isinstance(data, dict):
        raise AsvFormatError(path, f"expected a JSON object, got {type(data).__name__}")
    return data


def param_value(text: Any) -> Any:
    """asv stores param values as reprs: "10" -> 10, "'list'" -> "list"; others stay as written."""
    if not isinstance(text, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    try:
        canonical_json(value)
    except (TypeError, ValueError):  # NaN, sets, bytes: keep asv's spelling
        return text
    return value


def _param_names(benchmark: dict | None, count: int) -> list[str]:
    names = list((benchmark or {}).get("param_names") or [])
    return names if len(names) == count else [f"param{i + 1}" for i in range(count)]


def _number(value: Any) -> float | None:
    """A finite float, or None for a missing or failed measurement."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _per_combination(path: Path, name: str, column: str, value: Any, count: int) -> list:
    if value is None:
        return [None] * count
    if not isinstance(value, list) or len(value) != count:
        raise AsvFormatError(
            path, f"benchmark {name!r}: column {column!r} must be a list of {count} values (one per param "
            f"combination), got {json.dumps(value)[:80]}"
        )
    return value


def _points(path: Path, name: str, row: dict[str, Any], benchmark: dict | None) -> tuple[list[AsvPoint], int]:
    """The measured points of one benchmark's row, and how many combinations had no value."""
    params = row.get("params") or []
    if not isinstance(params, list) or not all(isinstance(p, list) and p for p in params):
        raise AsvFormatError(path, f"benchmark {name!r}: 'params' must be a list of non-empty lists, got {params!r}")
    combinations = list(itertools.product(*params))
    count = len(combinations)
    results = _per_combination(path, name, "result", row.get("result"), count)
    q25 = _per_combination(path, name, "stats_q_25", row.get("stats_q_25"), count)
    q75 = _per_combination(path, name, "stats_q_75", row.get("stats_q_75"), count)
    repeats = _per_combination(path, name, "stats_repeat", row.get("stats_repeat"), count)
    samples = _per_combination(path, name, "samples", row.get("samples"), count)
    names = _param_names(benchmark, len(params))
    version = row.get("version") or (benchmark or {}).get("version") or ""
    if not isinstance(version, str):
        raise AsvFormatError(path, f"benchmark {name!r}: 'version' must be a string, got {version!r}")
    points, missing = [], 0
    for j, combination in enumerate(combinations):
        median = _number(results[j])
        if median is None:
            if results[j] is not None and not (isinstance(results[j], float) and math.isnan(results[j])):
                raise AsvFormatError(
                    path, f"benchmark {name!r}: result {j} must be a number or null, got {results[j]!r}"
                )
            missing += 1  # asv writes null (or NaN) for a failed or skipped combination
            continue
        sample_values = [v for v in samples[j] if _number(v) is not None] if isinstance(samples[j], list) else []
        p25, p75 = _number(q25[j]), _number(q75[j])
        n = len(sample_values) or (repeats[j] if isinstance(repeats[j], int) and repeats[j] > 0 else 1)
        points.append(
            AsvPoint(
                benchmark=name,
                params={k: param_value(v) for k, v in zip(names, combination)},
                median=median,
                p25=median if p25 is None else p25,
                p75=median if p75 is None else p75,
                # The fastest sample when asv kept samples; else p25, the best bound it recorded.
                min=min(sample_values) if sample_values else (median if p25 is None else min(p25, median)),
                n=n,
                version=version[:64],
            )
        )
    return points, missing


def read_result_file(path: Path, benchmarks: dict[str, dict]) -> AsvResultFile:
    """Parse one <commit>-<env>.json result file (format version 2)."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise AsvFormatError(path, f"expected a JSON object, got {type(data).__name__}")
    if data.get("version") != RESULT_FORMAT_VERSION:
        raise AsvFormatError(
            path, f"asv result format version {data.get('version')!r}, expected {RESULT_FORMAT_VERSION} "
            "(asv 0.5+; run `asv update` on older results)"
        )
    for key, kind in (("commit_hash", str), ("env_name", str), ("date", int), ("result_columns", list),
                      ("results", dict)):
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise AsvFormatError(path, f"{key!r} must be a {kind.__name__}, got {data.get(key)!r:.80}")
    commit = data["commit_hash"].strip()
    if not commit or len(commit) > COMMIT_MAX_LENGTH:
        raise AsvFormatError(path, f"'commit_hash' must be 1 to {COMMIT_MAX_LENGTH} characters, got {commit!r}")
    columns = data["result_columns"]
    if "result" not in columns or not all(isinstance(c, str) for c in columns):
        raise AsvFormatError(path, f"'result_columns' must be column names including 'result', got {columns!r:.120}")
    try:
        date = datetime.fromtimestamp(data["date"] / 1000, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise AsvFormatError(path, f"'date' must be milliseconds since 1970, got {data['date']!r}") from None
    points, skipped = [], 0
    for name, values in data["results"].items():
        if not isinstance(values, list) or len(values) > len(columns):
            raise AsvFormatError(
                path, f"benchmark {name!r}: expected a list of at most {len(columns)} values matching "
                "'result_columns'"
            )
        if len(name) > MODEL_MAX_LENGTH:
            raise AsvFormatError(path, f"benchmark name {name!r} is longer than {MODEL_MAX_LENGTH} characters")
        benchmark = benchmarks.get(name)
        if benchmark is not None and benchmark.get("type", "time") != "time":
            skipped += 1  # memory and tracking benchmarks are not seconds
            continue
        row_points, missing = _points(path, name, dict(zip(columns, values)), benchmark)
        points.extend(row_points)
        skipped += missing
    config = {
        "asv_env": data["env_name"],
        "python": str(data.get("python") or ""),
        "requirements": data.get("requirements") or {},
        "env_vars": data.get("env_vars") or {},
    }
    try:
        canonical_json(config)
    except (TypeError, ValueError) as exc:
        raise AsvFormatError(path, f"'requirements' or 'env_vars' cannot be stored: {exc}") from None
    return AsvResultFile(path, commit, data["env_name"], date, config, points, skipped)


def parse_ram(value: Any) -> int | None:
    """asv's ram: bytes as a number or digits (its default), or what a person typed ("8GB", "16 GiB")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", str(value or ""), re.IGNORECASE)
    if match is None:
        return None
    return int(float(match[1]) * RAM_UNITS[match[2].lower()]) or None


def machine_hardware(info: dict[str, Any]) -> dict[str, Any]:
    """Machine fields from machine.json (or a result file's params)."""
    cores = str(info.get("num_cpu") or "").strip()
    return {
        "cpu_model": str(info.get("cpu") or "")[:255],
        "cores": int(cores) if cores.isdigit() and int(cores) > 0 else None,
        "memory_bytes": parse_ram(info.get("ram")),
        "os": str(info.get("os") or "")[:255],
    }


def idempotency_key(machine: str, benchmark: str, params: dict, commit: str, env_name: str) -> uuid.UUID:
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, canonical_json([machine, benchmark, params, commit, env_name]))


# --- writing ---------------------------------------------------------------------------------------------------


def default_project_name(results_dir: Path) -> str:
    """asv.conf.json's "project" when the results directory sits next to it."""
    conf = results_dir.parent / "asv.conf.json"
    if conf.is_file():
        try:
            name = json.loads(conf.read_text(encoding="utf-8")).get("project")
        except (OSError, ValueError, AttributeError):
            name = None  # asv allows comments in its config; then fall back to the default name
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


def store_result_file(result: AsvResultFile, project: Project, machine: Machine, notify: bool) -> tuple[int, int]:
    """Store one parsed file in one transaction; returns (created, already there)."""
    created = existing = 0
    with transaction.atomic():
        benchmarks: dict[tuple[str, str], Benchmark] = {}
        keyed = [
            (point, idempotency_key(machine.name, point.benchmark, point.params, result.commit, result.env_name))
            for point in result.points
        ]
        stored = set(
            Run.objects.filter(idempotency_key__in=[k for _, k in keyed]).values_list("idempotency_key", flat=True)
        )
        for point, key in keyed:
            if key in stored:
                existing += 1
                continue
            params_hash = canonical_sha256(point.params)
            benchmark = benchmarks.get((point.benchmark, params_hash))
            if benchmark is None:
                benchmark, _ = Benchmark.objects.get_or_create(
                    project=project, model=point.benchmark, params_hash=params_hash, defaults={"params": point.params}
                )
                benchmarks[point.benchmark, params_hash] = benchmark
            run = Run.objects.create(
                idempotency_key=key,
                payload_sha256=canonical_sha256(
                    [point.median, point.p25, point.p75, point.min, point.n, point.version, result.config]
                ),
                machine=machine,
                benchmark=benchmark,
                model_version=point.version,
                config=result.config,
                config_hash=canonical_sha256(result.config),
                commit=result.commit,
                commit_time=result.date,
                started_at=result.date,  # asv's commit date: series follow commit order, as asv plots them
                warmup=0,
                repeats=point.n,
                median=point.median,
                p25=point.p25,
                p75=point.p75,
                min=point.min,
                n=point.n,
                peak_gflops=None,  # asv measures no roofline
                peak_gbs=None,
            )
            stored.add(key)
            created += 1
            if notify:
                transaction.on_commit(partial(send_run_ingested, run.pk))
    return created, existing


def import_asv_results(
    results_dir: str | Path, project: str | None = None, machine: str | None = None, notify: bool = True
) -> ImportSummary:
    """Import every result file under an asv results directory.

    project: name of the project to file the benchmarks under (default: asv.conf.json's
    "project" next to the directory, else "asv"). machine: store the runs under this
    machine name instead of asv's (the directory must then hold one asv machine).
    notify: send run_ingested for each new run, so change detection sees it.

    Each file is stored in its own transaction; a malformed file is reported in
    summary.errors (naming the file and the problem) and nothing of it is written.
    benchmarks.json missing or broken raises AsvFormatError before anything is written.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise AsvFormatError(results_dir, "is not a directory")
    benchmarks = read_benchmarks(results_dir)
    machine_dirs = sorted(p for p in results_dir.iterdir() if p.is_dir() and any(p.glob("*.json")))
    if machine and len(machine_dirs) > 1:
        names = ", ".join(p.name for p in machine_dirs)
        raise AsvFormatError(
            results_dir, f"holds results of several asv machines ({names}); --machine renames exactly one"
        )
    target_project = project_named(project or default_project_name(results_dir))
    summary = ImportSummary()
    for machine_dir in machine_dirs:
        try:
            info = read_machine(machine_dir)
        except AsvFormatError as exc:
            summary.errors.append(str(exc))
            continue
        target: Machine | None = None
        for path in sorted(machine_dir.glob("*.json")):
            if path.name == "machine.json":
                continue
            summary.files += 1
            try:
                result = read_result_file(path, benchmarks)
                if target is None:
                    hardware = machine_hardware(info or _file_machine_params(path))
                    target = machine_named(machine or machine_dir.name, hardware)
                created, existing = store_result_file(result, target_project, target, notify)
            except AsvFormatError as exc:
                summary.errors.append(str(exc))
                continue
            summary.created += created
            summary.existing += existing
            summary.skipped += result.skipped
    return summary


def _file_machine_params(path: Path) -> dict:
    """A result file's "params" carry the machine's fields too (used when machine.json is missing)."""
    params = load_json(path).get("params")
    return params if isinstance(params, dict) else {}
