"""What a job asks an agent to run: a benchmark (model + size params, or the
model "onnx" with params naming a file of the repository: engine.onnx_spec), the
engine config, and how to measure it. Schedules and commit jobs store the same
spec; `check_spec` validates it before either is saved.

The config is the run report's `config` less `threads` (a job field of its
own): passes, quant, flags, inject, and optionally target_ci and budget_s
(repeat until the end-to-end median's 95% CI is within target_ci percent, for
at most budget_s seconds; engine/report.py Config). A config with a "sweep"
section (engine.sweep.spec, checked as the agent's TOML is) runs `sweep` over
that grid within its budget instead of `run`; the job completes with the sweep.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.core.exceptions import ValidationError

from engine.onnx_spec import is_onnx
from engine.onnx_spec import params_errors as onnx_params_errors
from engine.sweep.spec import config_sweep_errors

MODEL_MAX_LENGTH = 100
CONFIG_DEFAULTS: dict[str, Any] = {"passes": [], "quant": "none", "flags": {}, "inject": []}
# Absent unless given: the engine's fixed repeats, and a run rather than a sweep.
CONFIG_OPTIONAL = ("target_ci", "budget_s", "sweep")
COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}$")
REPOSITORY_MAX_LENGTH = 500
POSITIVE_INT_MAX = 2**31 - 1  # PositiveIntegerField on PostgreSQL

# (minimum, maximum) of the measurement numbers a spec carries.
LIMITS = {
    "warmup": (0, 10_000),
    "repeats": (1, 100_000),
    "threads": (1, 4096),
    "timeout_seconds": (1, 7 * 24 * 3600),
}


def _type_name(value: Any) -> str:
    return {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string",
            dict: "object", list: "array"}.get(type(value), type(value).__name__)


def config_errors(config: Any) -> list[str]:
    """What is wrong with an engine config (empty when nothing is)."""
    if not isinstance(config, dict):
        return [f"Expected a JSON object, got {_type_name(config)}."]
    errors = []
    for key in config:
        if key not in CONFIG_DEFAULTS and key not in CONFIG_OPTIONAL:
            hint = " (threads is a field of the job, not of its config)" if key == "threads" else ""
            errors.append(f"Unknown key {key!r}{hint}; expected only: "
                          f"{', '.join((*CONFIG_DEFAULTS, *CONFIG_OPTIONAL))}.")
    for key in ("passes", "inject"):
        value = config.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            errors.append(f"{key}: expected an array of strings, got {value!r}.")
    if not isinstance(config.get("quant", "none"), str) or not config.get("quant", "none"):
        errors.append(f"quant: expected a non-empty string, got {config.get('quant')!r}.")
    if not isinstance(config.get("flags", {}), dict):
        errors.append(f"flags: expected a JSON object, got {_type_name(config.get('flags'))}.")
    if "sweep" in config:
        return errors + [f"{key}: {problem}." for key, problem in config_sweep_errors(config).items()]
    return errors + _precision_errors(config)


def _precision_errors(config: dict) -> list[str]:
    """target_ci: a percent in (0, 100); budget_s: seconds > 0, only beside a target."""
    errors = []
    for key, ok, wanted in (("target_ci", lambda v: 0 < v < 100, "a percent between 0 and 100 (exclusive)"),
                            ("budget_s", lambda v: v > 0, "a number of seconds > 0")):
        value = config.get(key)
        if key in config and (isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value)):
            errors.append(f"{key}: expected {wanted}, got {value!r}.")
    if "budget_s" in config and "target_ci" not in config:
        errors.append("budget_s: bounds target_ci's extra repeats; give target_ci too.")
    return errors


def full_config(config: dict) -> dict:
    """The config with every key the agent expects, defaults filled in."""
    return {**CONFIG_DEFAULTS, **config}


def check_spec(*, model: Any, params: Any, config: Any, warmup: Any, repeats: Any, threads: Any = None,
               timeout_seconds: Any) -> None:
    """Raise ValidationError({field: [message]}) for every field that is wrong."""
    errors: dict[str, list[str]] = {}
    if not isinstance(model, str) or not model.strip() or len(model) > MODEL_MAX_LENGTH:
        errors["model"] = [f"Expected a model name of 1 to {MODEL_MAX_LENGTH} characters, got {model!r}."]
    if not isinstance(params, dict):
        errors["params"] = [f"Expected a JSON object of size params, got {_type_name(params)}."]
    elif is_onnx(model) and (problems := onnx_params_errors(params)):
        errors["params"] = [f"params.{key}: {problem}." if key else f"{problem}." for key, problem in problems.items()]
    if problems := config_errors(config):
        errors["config"] = problems
    elif isinstance(config, dict) and "sweep" in config:
        if threads is not None:
            errors["threads"] = ["Not used with a sweep; give config.sweep.threads instead."]
        if isinstance(timeout_seconds, int) and config["sweep"]["budget_s"] >= timeout_seconds:
            errors["timeout_seconds"] = [f"Expected more than config.sweep.budget_s "
                                         f"({config['sweep']['budget_s']:g} s), or the sweep is killed."]
    for name, value in (("warmup", warmup), ("repeats", repeats), ("threads", threads),
                        ("timeout_seconds", timeout_seconds)):
        if name == "threads" and value is None:
            continue
        low, high = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[name] = [f"Expected a whole number from {low} to {high}, got {value!r}."]
    if errors:
        raise ValidationError(errors)


def spec_sha256(spec: dict) -> str:
    """One hash per spec (keys sorted), so equal specs compare equal in an index."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_source(repository: Any, commit: Any) -> str:
    """Validate a commit job's source; returns the commit id in lower case."""
    errors: dict[str, list[str]] = {}
    if not isinstance(repository, str) or not repository.strip() or len(repository) > REPOSITORY_MAX_LENGTH:
        errors["repository"] = [f"Expected a repository URL of 1 to {REPOSITORY_MAX_LENGTH} characters, "
                                f"got {repository!r}."]
    normal = commit.strip().lower() if isinstance(commit, str) else commit
    if not isinstance(normal, str) or not COMMIT_RE.match(normal):
        errors["commit"] = [f"Expected a hexadecimal commit id of 7 to 64 digits, got {commit!r}."]
    if errors:
        raise ValidationError(errors)
    return normal
