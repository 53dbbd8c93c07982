"""Reading asv's files (no database): benchmarks.json, machine.json, result
files and asv.conf.json, each given as bytes with a label naming it in errors.

asv (0.6) writes, under its results_dir:
    benchmarks.json                     every benchmark: type, unit, params, param_names, version
    <machine>/machine.json              the machine: cpu, num_cpu, ram, os, arch
    <machine>/<commit[:8]>-<env>.json   one commit in one environment, format version 2

A version-2 result file holds "result_columns" (names such as "result",
"params", "stats_q_25") and "results": {benchmark: [one value per column]},
trailing None columns dropped. "result" and every stats column are lists with
one entry per combination of the benchmark's params (itertools.product order);
param values are Python reprs ("10", "'list'").
"""
from __future__ import annotations

import ast
import itertools
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from functools import lru_cache
from typing import Any

import json5
from asv.util import sanitize_filename

from results.canonical import canonical_json
from results.models import Benchmark, Run

RESULT_FORMAT_VERSION = 2
MODEL_MAX_LENGTH = Benchmark._meta.get_field("model").max_length
ENVIRONMENT_MAX_LENGTH = Benchmark._meta.get_field("environment").max_length
COMMIT_MAX_LENGTH = Run._meta.get_field("commit").max_length
RAM_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


class AsvFormatError(ValueError):
    """An asv file that cannot be read; the message names the file and the problem."""

    def __init__(self, label: str, problem: str):
        super().__init__(f"{label}: {problem}")
        self.label = label


@dataclass(frozen=True)
class AsvPoint:
    """One measured value of one benchmark at one param combination."""

    benchmark: str
    params: dict[str, Any]
    params_json: str  # canonical JSON of params (hashed for the benchmark, keyed for the run)
    median: float
    p25: float
    p75: float
    min: float
    n: int
    version: str


@dataclass(frozen=True)
class AsvResultFile:
    label: str
    commit: str
    env_name: str
    environment: str  # the series' environment: asv's env_name, with the Python where the name lacks it
    date: datetime
    config: dict
    points: list[AsvPoint]
    failed: int  # null or NaN results: failed or skipped measurements
    not_time: int  # memory, peak-memory and tracking benchmarks: not seconds
    machine: dict  # the file's "params": the machine's fields too (used when machine.json is missing)


def load_json(label: str, data: bytes) -> Any:
    try:
        # asv writes Infinity for unbounded confidence intervals; Python's json reads it.
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AsvFormatError(label, f"is not valid JSON (truncated?): {exc}") from None


def _object(label: str, data: Any) -> dict:
    if not isinstance(data, dict):
        raise AsvFormatError(label, f"expected a JSON object, got {type(data).__name__}")
    return data


def read_benchmarks(label: str, data: bytes) -> dict[str, dict]:
    """benchmarks.json as {name: description}."""
    benchmarks = {name: desc for name, desc in _object(label, load_json(label, data)).items() if name != "version"}
    for name, desc in benchmarks.items():
        if not isinstance(desc, dict):
            raise AsvFormatError(label, f"benchmark {name!r}: expected an object, got {type(desc).__name__}")
    return benchmarks


def read_machine(label: str, data: bytes) -> dict[str, Any]:
    return _object(label, load_json(label, data))


def read_config(label: str, data: bytes) -> dict[str, Any]:
    """asv.conf.json as asv reads it (asv.util.load_json(js_comments=True)): JSON5,
    so // and /* */ comments and trailing commas are allowed, as `asv quickstart` writes."""
    try:
        return _object(label, json5.loads(data.decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AsvFormatError(label, f"is not valid JSON with comments: {exc}") from None


@lru_cache(maxsize=65536)
def param_value(text: Any) -> Any:
    """asv stores param values as reprs: "10" -> 10, "'list'" -> "list"; others stay as written."""
    if not isinstance(text, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
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


def _per_combination(label: str, name: str, column: str, value: Any, count: int) -> list:
    if value is None:
        return [None] * count
    if not isinstance(value, list) or len(value) != count:
        raise AsvFormatError(
            label, f"benchmark {name!r}: column {column!r} must be a list of {count} values (one per param "
            f"combination), got {json.dumps(value)[:80]}"
        )
    return value


@lru_cache(maxsize=4096)
def _combinations(params: str, names: tuple[str, ...]) -> list[tuple[dict[str, Any], str]]:
    """(params dict, its canonical JSON) per combination of a params list (given as JSON, to be hashable)."""
    out = []
    for combination in itertools.product(*json.loads(params)):
        values = {k: param_value(v) if isinstance(v, str) else v for k, v in zip(names, combination)}
        out.append((values, canonical_json(values)))
    return out


def _points(label: str, name: str, row: dict[str, Any], benchmark: dict | None) -> tuple[list[AsvPoint], int]:
    """The measured points of one benchmark's row, and how many combinations had no value."""
    params = row.get("params") or []
    if not isinstance(params, list) or not all(isinstance(p, list) and p for p in params):
        raise AsvFormatError(label, f"benchmark {name!r}: 'params' must be a list of non-empty lists, got {params!r}")
    try:
        combinations = _combinations(json.dumps(params), tuple(_param_names(benchmark, len(params))))
    except (TypeError, ValueError) as exc:
        raise AsvFormatError(label, f"benchmark {name!r}: 'params' cannot be read: {exc}") from None
    count = len(combinations)
    results = _per_combination(label, name, "result", row.get("result"), count)
    q25 = _per_combination(label, name, "stats_q_25", row.get("stats_q_25"), count)
    q75 = _per_combination(label, name, "stats_q_75", row.get("stats_q_75"), count)
    repeats = _per_combination(label, name, "stats_repeat", row.get("stats_repeat"), count)
    samples = _per_combination(label, name, "samples", row.get("samples"), count)
    version = row.get("version") or (benchmark or {}).get("version") or ""
    if not isinstance(version, str):
        raise AsvFormatError(label, f"benchmark {name!r}: 'version' must be a string, got {version!r}")
    points, missing = [], 0
    for j, (values, values_json) in enumerate(combinations):
        median = _number(results[j])
        if median is None:
            if results[j] is not None and not (isinstance(results[j], float) and math.isnan(results[j])):
                raise AsvFormatError(
                    label, f"benchmark {name!r}: result {j} must be a number or null, got {results[j]!r}"
                )
            missing += 1  # asv writes null (or NaN) for a failed or skipped combination
            continue
        sample_values = [v for v in samples[j] if _number(v) is not None] if isinstance(samples[j], list) else []
        p25, p75 = _number(q25[j]), _number(q75[j])
        n = len(sample_values) or (repeats[j] if isinstance(repeats[j], int) and repeats[j] > 0 else 1)
        points.append(
            AsvPoint(
                benchmark=name,
                params=values,
                params_json=values_json,
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


def environment_of(env_name: str, python: str) -> str:
    """A series' environment: asv's env_name ("virtualenv-py3.12-numpy"), which names
    the Python as asv spells it in file names; where it does not (a hand-written
    name), the Python is added."""
    name = env_name.strip()
    if python and sanitize_filename(f"py{python}") not in name:
        name = f"{name}-py{python}" if name else f"py{python}"
    return name[:ENVIRONMENT_MAX_LENGTH]


def read_result_file(label: str, data: bytes, benchmarks: dict[str, dict]) -> AsvResultFile:
    """Parse one <commit>-<env>.json result file (format version 2)."""
    data = _object(label, load_json(label, data))
    if data.get("version") != RESULT_FORMAT_VERSION:
        raise AsvFormatError(
            label, f"asv result format version {data.get('version')!r}, expected {RESULT_FORMAT_VERSION} "
            "(asv 0.5+; run `asv update` on older results)"
        )
    for key, kind in (("commit_hash", str), ("env_name", str), ("date", int), ("result_columns", list),
                      ("results", dict)):
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise AsvFormatError(label, f"{key!r} must be a {kind.__name__}, got {data.get(key)!r:.80}")
    commit = data["commit_hash"].strip()
    if not commit or len(commit) > COMMIT_MAX_LENGTH:
        raise AsvFormatError(label, f"'commit_hash' must be 1 to {COMMIT_MAX_LENGTH} characters, got {commit!r}")
    columns = data["result_columns"]
    if "result" not in columns or not all(isinstance(c, str) for c in columns):
        raise AsvFormatError(label, f"'result_columns' must be column names including 'result', got {columns!r:.120}")
    try:
        date = datetime.fromtimestamp(data["date"] / 1000, tz=dt_timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise AsvFormatError(label, f"'date' must be milliseconds since 1970, got {data['date']!r}") from None
    points, failed, not_time = [], 0, 0
    for name, values in data["results"].items():
        if not isinstance(values, list) or len(values) > len(columns):
            raise AsvFormatError(
                label, f"benchmark {name!r}: expected a list of at most {len(columns)} values matching "
                "'result_columns'"
            )
        if len(name) > MODEL_MAX_LENGTH:
            raise AsvFormatError(label, f"benchmark name {name!r} is longer than {MODEL_MAX_LENGTH} characters")
        benchmark = benchmarks.get(name)
        if benchmark is not None and benchmark.get("type", "time") != "time":
            not_time += 1  # memory and tracking benchmarks are not seconds
            continue
        row_points, missing = _points(label, name, dict(zip(columns, values)), benchmark)
        points.extend(row_points)
        failed += missing
    python = str(data.get("python") or "")
    config = {
        "asv_env": data["env_name"],
        "python": python,
        "requirements": data.get("requirements") or {},
        "env_vars": data.get("env_vars") or {},
    }
    try:
        canonical_json(config)
    except (TypeError, ValueError) as exc:
        raise AsvFormatError(label, f"'requirements' or 'env_vars' cannot be stored: {exc}") from None
    machine = data.get("params") if isinstance(data.get("params"), dict) else {}
    return AsvResultFile(label, commit, data["env_name"], environment_of(data["env_name"], python), date,
                         config, points, failed, not_time, machine)


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
