"""The agent's TOML config: read strictly, written atomically with mode 0600.

Every key is known: an unknown key, a value of the wrong type or a missing
token is a ConfigError naming the file, the key and what was expected.
docs/agent.toml.example documents each key.
"""
from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic_file import write_text_atomic
from engine.onnx_spec import ONNX_MODEL, is_onnx
from engine.onnx_spec import params_errors as onnx_params_errors
from engine.report import BACKEND_ENGINE, BACKEND_ORT, BACKENDS
from engine.sweep.spec import config_sweep_errors

from .spool import QUARANTINE_AFTER

CONFIG_ENV = "ROOFWATCH_AGENT_CONFIG"


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid."""


def default_config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    config_home = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config_home) / "roofwatch" / "agent.toml"


def default_max_load() -> float:
    """The quiet wait's default limit: half the CPUs busy, at least one."""
    return max(1.0, (os.cpu_count() or 2) / 2)


def default_spool_path() -> Path:
    if os.environ.get("ROOFWATCH_SPOOL"):
        return Path(os.environ["ROOFWATCH_SPOOL"])
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "roofwatch" / "spool"


@dataclass(frozen=True)
class BenchmarkSpec:
    model: str  # a zoo model, or engine.onnx_spec.ONNX_MODEL: params.path names a file of the repository
    params: dict[str, Any] = field(default_factory=dict)
    passes: list[str] = field(default_factory=list)
    quant: str = "none"
    flags: dict[str, Any] = field(default_factory=dict)
    inject: list[str] = field(default_factory=list)
    warmup: int | None = None  # None: [measurement]'s
    repeats: int | None = None
    # The engine's --target-ci/--budget-s: repeat until the end-to-end median's
    # 95% CI half-width is within target_ci percent, for at most budget_s seconds.
    target_ci: float | None = None
    budget_s: float | None = None
    # Which runtime runs the model (engine.report.BACKENDS): the engine's --backend.
    backend: str = BACKEND_ENGINE
    # config.sweep (engine.sweep.spec): run `sweep` over this grid within its budget_s instead of `run`.
    sweep: dict[str, Any] | None = None


@dataclass(frozen=True)
class AgentConfig:
    path: Path
    server: str
    token: str
    name: str = ""
    spool: Path = field(default_factory=default_spool_path)
    engine: list[str] = field(default_factory=list)  # empty: this agent's own python -m engine.cli
    log_format: str = "text"  # "text" (key=value) | "json"
    interval_seconds: float = 0.0  # local schedule of [[benchmarks]]; 0: jobs only
    poll_seconds: float = 30.0
    max_backoff_seconds: float = 300.0
    lease_seconds: int = 900
    warmup: int = 3
    repeats: int = 10
    threads: int | None = None
    cpus: list[int] = field(default_factory=list)
    timeout_seconds: float = 600.0
    max_load: float = field(default_factory=default_max_load)  # max_wait_seconds 0: never wait
    max_wait_seconds: float = 300.0
    check_seconds: float = 5.0
    peaks_refresh_hours: float = 168.0  # 0: only when the fingerprint changes
    repository: Path | None = None
    stop_grace_seconds: float = 120.0
    spool_reserve_mb: float = 64.0  # free space kept besides the next report, else no job is claimed
    quarantine_after: int = QUARANTINE_AFTER
    benchmarks: list[BenchmarkSpec] = field(default_factory=list)


# -- value checkers: each returns the value or raises ValueError(expected) --------

def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("a string")
    return v


def _nonempty_str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("a non-empty string")
    return v


def _url(v: Any) -> str:
    if not isinstance(v, str) or not v.startswith(("http://", "https://")):
        raise ValueError("an http:// or https:// URL")
    return v.rstrip("/")


def _int_min(low: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"an integer >= {low}")
        return v
    return check


def _int_range(low: int, high: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return v
    return check


def _num_min(low: float, *, strict: bool = False) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < low or (strict and v == low):
            raise ValueError(f"a number {'>' if strict else '>='} {low:g}")
        return float(v)
    return check


def _percent(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 100:
        raise ValueError("a percent between 0 and 100 (exclusive)")
    return float(v)


def _list_of(item: Callable[[Any], Any], what: str) -> Callable[[Any], list]:
    def check(v: Any) -> list:
        if not isinstance(v, list):
            raise ValueError(f"a list of {what}")
        try:
            return [item(x) for x in v]
        except ValueError:
            raise ValueError(f"a list of {what}") from None
    return check


def _table(v: Any) -> dict:
    if not isinstance(v, dict):
        raise ValueError("a table")
    return dict(v)


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in choices:
            raise ValueError("one of " + ", ".join(repr(c) for c in choices))
        return v
    return check


def _path(v: Any) -> Path:
    return Path(_nonempty_str(v)).expanduser()


# key -> (AgentConfig field, checker)
_TOP = {
    "server": ("server", _url),
    "token": ("token", _nonempty_str),
    "name": ("name", _str),
    "spool": ("spool", _path),
    "engine": ("engine", _list_of(_nonempty_str, "non-empty strings")),
    "log_format": ("log_format", _one_of("text", "json")),
}
_TABLES: dict[str, dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "schedule": {
        "interval_seconds": ("interval_seconds", _num_min(0)),
        "poll_seconds": ("poll_seconds", _num_min(0, strict=True)),
        "max_backoff_seconds": ("max_backoff_seconds", _num_min(0, strict=True)),
        "lease_seconds": ("lease_seconds", _int_range(30, 3600)),
    },
    "measurement": {
        "warmup": ("warmup", _int_min(0)),
        "repeats": ("repeats", _int_min(1)),
        "threads": ("threads", _int_min(1)),
        "cpus": ("cpus", _list_of(_int_min(0), "CPU numbers (integers >= 0)")),
        "timeout_seconds": ("timeout_seconds", _num_min(0, strict=True)),
    },
    "quiet": {
        "max_load": ("max_load", _num_min(0, strict=True)),
        "max_wait_seconds": ("max_wait_seconds", _num_min(0)),
        "check_seconds": ("check_seconds", _num_min(0, strict=True)),
    },
    "upload": {"quarantine_after": ("quarantine_after", _int_min(1))},
    "peaks": {"refresh_hours": ("peaks_refresh_hours", _num_min(0))},
    "repository": {"path": ("repository", _path)},
    "daemon": {"stop_grace_seconds": ("stop_grace_seconds", _num_min(0)),
               "spool_reserve_mb": ("spool_reserve_mb", _num_min(0))},
}
_BENCHMARK = {
    "model": _nonempty_str,
    "params": _table,
    "warmup": _int_min(0),
    "repeats": _int_min(1),
}
_BENCHMARK_CONFIG = {
    "passes": _list_of(_nonempty_str, "pass names"),
    "quant": _nonempty_str,
    "flags": _table,
    "inject": _list_of(_nonempty_str, "KIND:LAYER:FACTOR strings"),
    "target_ci": _percent,
    "budget_s": _num_min(0, strict=True),
    "backend": _one_of(*BACKENDS),
    "sweep": _table,
}
# What only the engine does: refused with backend = "onnxruntime" (its own optimizations run instead).
_ENGINE_ONLY = ("passes", "quant", "inject", "target_ci")


def load_config(path: str | os.PathLike[str]) -> AgentConfig:
    path = Path(path).expanduser()
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file; create it with `roofwatch-agent register`") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_config(doc, path)


def parse_config(doc: Mapping[str, Any], path: Path) -> AgentConfig:
    values: dict[str, Any] = {}
    for key, raw in doc.items():
        if key in _TOP:
            name, check = _TOP[key]
            values[name] = _check(path, key, check, raw)
        elif key in _TABLES:
            if not isinstance(raw, dict):
                raise ConfigError(f"{path}: {key}: expected a table [{key}], got {raw!r}")
            for sub, value in raw.items():
                if sub not in _TABLES[key]:
                    raise _unknown(path, f"{key}.{sub}", _TABLES[key])
                name, check = _TABLES[key][sub]
                values[name] = _check(path, f"{key}.{sub}", check, value)
        elif key == "benchmarks":
            values["benchmarks"] = _benchmarks(raw, path)
        else:
            raise _unknown(path, key, {**_TOP, **_TABLES, "benchmarks": None})
    for required in ("server", "token"):
        if required not in values:
            raise ConfigError(f"{path}: {required}: missing; expected a string "
                              f"(`roofwatch-agent register` writes it)")
    cfg = AgentConfig(path=path, **values)
    for i, bench in enumerate(cfg.benchmarks):
        if bench.sweep is not None and bench.sweep["budget_s"] >= cfg.timeout_seconds:
            raise ConfigError(f"{path}: benchmarks[{i}].config.sweep.budget_s: {bench.sweep['budget_s']:g} s does "
                              f"not fit in measurement.timeout_seconds ({cfg.timeout_seconds:g} s), which would "
                              "kill the sweep; lower it or raise the timeout")
        if bench.budget_s is not None and bench.budget_s >= cfg.timeout_seconds:
            raise ConfigError(f"{path}: benchmarks[{i}].config.budget_s: {bench.budget_s:g} s does not fit in "
                              f"measurement.timeout_seconds ({cfg.timeout_seconds:g} s), which would kill the run; "
                              "lower it or raise the timeout")
    return cfg


def _benchmarks(raw: Any, path: Path) -> list[BenchmarkSpec]:
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: benchmarks: expected an array of tables [[benchmarks]], got {raw!r}")
    return [_benchmark(item, path, f"benchmarks[{i}]") for i, item in enumerate(raw)]


def _benchmark(item: Any, path: Path, where: str) -> BenchmarkSpec:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: {where}: expected a table, got {item!r}")
    fields: dict[str, Any] = {}
    for key, value in item.items():
        if key == "config":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {where}.config: expected a table, got {value!r}")
            for sub, v in value.items():
                if sub not in _BENCHMARK_CONFIG:
                    raise _unknown(path, f"{where}.config.{sub}", _BENCHMARK_CONFIG)
                fields[sub] = _check(path, f"{where}.config.{sub}", _BENCHMARK_CONFIG[sub], v)
        elif key in _BENCHMARK:
            fields[key] = _check(path, f"{where}.{key}", _BENCHMARK[key], value)
        else:
            raise _unknown(path, f"{where}.{key}", {**_BENCHMARK, "config": None})
    if "model" not in fields:
        raise ConfigError(f"{path}: {where}.model: missing; expected a model name such as 'mlp', "
                          f"or {ONNX_MODEL!r} with params.path")
    if is_onnx(fields["model"]):
        for key, problem in onnx_params_errors(fields.get("params", {})).items():
            raise ConfigError(f"{path}: {where}.params{'.' + key if key else ''}: {problem}")
    if fields.get("backend") == BACKEND_ORT:
        refused = [k for k in _ENGINE_ONLY if fields.get(k) not in (None, [], "none")]
        if refused:
            raise ConfigError(f"{path}: {where}.config.{refused[0]}: not supported with backend "
                              f"{BACKEND_ORT!r} (it applies its own graph optimizations); remove "
                              f"{', '.join(f'config.{k}' for k in refused)} or the backend")
    if "sweep" in fields:
        for key, problem in config_sweep_errors(fields).items():
            raise ConfigError(f"{path}: {where}.config.{key}: {problem}")
        if fields.get("backend") == BACKEND_ORT:
            raise ConfigError(f"{path}: {where}.config.sweep: sweeps run the engine; remove the backend "
                              f"{BACKEND_ORT!r} or the sweep")
    if "budget_s" in fields and "target_ci" not in fields:
        raise ConfigError(f"{path}: {where}.config.budget_s: bounds target_ci's extra repeats; "
                          f"set {where}.config.target_ci too")
    return BenchmarkSpec(**fields)


def _check(path: Path, key: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValueError as e:
        raise ConfigError(f"{path}: {key}: expected {e}, got {value!r}") from None


def _unknown(path: Path, key: str, known: Mapping[str, Any]) -> ConfigError:
    return ConfigError(f"{path}: {key}: unknown key; expected one of {', '.join(sorted(known))}")


# -- writing -----------------------------------------------------------------

def toml_string(value: str) -> str:
    """A TOML basic string. JSON's escapes are a subset of TOML's once
    non-ASCII text is left as is (no surrogate-pair escapes)."""
    return json.dumps(value, ensure_ascii=False)


def set_top_level(text: str, updates: Mapping[str, str]) -> str:
    """`text` with top-level string keys set to `updates`' values, keeping
    comments and every table: a key's line before the first [table] is
    replaced, or a new line added at the top."""
    lines = text.splitlines()
    first_table = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("[")), len(lines))
    missing = dict(updates)
    for i in range(first_table):
        key = lines[i].split("=", 1)[0].strip()
        if "=" in lines[i] and key in missing:
            lines[i] = f"{key} = {toml_string(missing.pop(key))}"
    head = [f"{k} = {toml_string(v)}" for k, v in missing.items()]
    return "\n".join(head + lines) + "\n"


def write_config_text(path: Path, text: str) -> Path:
    """Validate `text` as a config, then write it atomically with mode 0600
    (the token is a secret): temp file, fsync, rename, fsync the directory."""
    try:
        parse_config(tomllib.loads(text), path)
    except tomllib.TOMLDecodeError as e:  # a bug here, never the user's input
        raise ConfigError(f"{path}: the config to write is not valid TOML: {e}") from None
    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkstemp's 0600 less the umask's bits: exactly 0600, set before the rename
        write_text_atomic(path, text, before_rename=lambda tmp: os.chmod(tmp, 0o600))
    except OSError as e:
        raise ConfigError(f"{path}: cannot write the config: {e.strerror or e}") from None
    return path
