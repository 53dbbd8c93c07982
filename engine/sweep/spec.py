"""A benchmark spec's `sweep` section (its config's "sweep" key): the one check
the agent's TOML (agents.config) and the platform's schedules and jobs
(fleet.job_spec) share, and the `roofwatch-engine sweep` arguments it makes.
Pure Python, no numpy: the platform's fleet imports it.

    sweep = {threads = [1, 2], batch = [32, 128], instances = [1], pin = ["off"],
             passes = ["none", "all"], quant = ["none"], slo_p99_ms = 5, budget_s = 600, rounds = 3}

Every grid list is optional (the engine's default then); budget_s is required
and bounded; slo_p99_ms makes it an autotune (optuna search under that p99);
rounds (1 to 100, the engine's default 3 when absent) is how many times each
configuration is measured, the report giving the medians.
With a sweep the section owns passes and quant: the config's own passes, quant,
inject, flags, target_ci and budget_s are refused, as is the job's threads.
"""
from __future__ import annotations

from typing import Any

from engine.sweep.grid import SweepConfigError, check_pin
from engine.sweep.report import ROUNDS_MAX

KEY = "sweep"
BUDGET_MAX_S = 24 * 3600
LIST_MAX = 64
INT_LISTS = ("threads", "batch", "instances")
STR_LISTS = ("pin", "passes", "quant")
KEYS = (*INT_LISTS, *STR_LISTS, "slo_p99_ms", "max_evaluations", "budget_s", "rounds")
# Config keys a sweep replaces (its own passes/quant lists) or that only `run` knows.
CONFIG_REFUSED = ("passes", "quant", "inject", "flags", "target_ci", "budget_s")


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def sweep_errors(section: Any) -> dict[str, str]:
    """{key of the section: what is wrong} (empty when fine); key "" for the section itself."""
    if not isinstance(section, dict):
        return {"": f"expected a table/object with budget_s and grid lists, got {section!r}"}
    errors = {key: f"unknown key; expected only {', '.join(KEYS)}" for key in section if key not in KEYS}
    for key in INT_LISTS:
        value = section.get(key)
        if key in section and (not isinstance(value, list) or not 1 <= len(value) <= LIST_MAX or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)):
            errors[key] = f"expected a list of 1 to {LIST_MAX} whole numbers >= 1, got {value!r}"
    for key in STR_LISTS:
        value = section.get(key)
        if key in section and (not isinstance(value, list) or not 1 <= len(value) <= LIST_MAX or any(
                not isinstance(v, str) or not v.strip() for v in value)):
            errors[key] = f"expected a list of 1 to {LIST_MAX} non-empty strings, got {value!r}"
        elif key == "pin" and key in section:
            try:
                for v in value:
                    check_pin(v)
            except SweepConfigError as e:
                errors[key] = f"expected off, on or CPU sets like 0-1/2-3: {e}"
    budget = section.get("budget_s")
    if "budget_s" not in section:
        errors["budget_s"] = f"missing; a sweep needs a time budget in seconds (at most {BUDGET_MAX_S})"
    elif not _number(budget) or not 0 < budget <= BUDGET_MAX_S:
        errors["budget_s"] = f"expected a number of seconds > 0 and <= {BUDGET_MAX_S}, got {budget!r}"
    slo = section.get("slo_p99_ms")
    if "slo_p99_ms" in section and (not _number(slo) or not slo > 0):
        errors["slo_p99_ms"] = f"expected a p99 latency in milliseconds > 0, got {slo!r}"
    rounds = section.get("rounds")
    if "rounds" in section and (isinstance(rounds, bool) or not isinstance(rounds, int)
                                or not 1 <= rounds <= ROUNDS_MAX):
        errors["rounds"] = f"expected a whole number of rounds from 1 to {ROUNDS_MAX}, got {rounds!r}"
    evaluations = section.get("max_evaluations")
    if "max_evaluations" in section:
        if isinstance(evaluations, bool) or not isinstance(evaluations, int) or evaluations < 1:
            errors["max_evaluations"] = f"expected a whole number >= 1, got {evaluations!r}"
        elif "slo_p99_ms" not in section:
            errors["max_evaluations"] = "bounds an autotune; give slo_p99_ms too"
    return errors


def config_sweep_errors(config: dict) -> dict[str, str]:
    """{"sweep.KEY" or a config key: what is wrong} for a config carrying a sweep (empty without one)."""
    if KEY not in config:
        return {}
    errors = {f"{KEY}.{k}" if k else KEY: problem for k, problem in sweep_errors(config[KEY]).items()}
    for key in CONFIG_REFUSED:
        if key in config and config[key] not in ([], {}, "none"):
            errors[key] = f"not used with a sweep; give the sweep's own {key} list" if key in ("passes", "quant") \
                else "not used with a sweep (it runs `sweep`, not `run`); remove it"
    return errors


def sweep_args(section: dict, *, warmup: int, repeats: int) -> list[str]:
    """The `roofwatch-engine sweep` arguments after the model for a checked section."""
    args: list[str] = []
    for key, flag in (("threads", "--threads"), ("batch", "--batch"), ("instances", "--instances")):
        if key in section:
            args += [flag, ",".join(str(v) for v in section[key])]
    for key in STR_LISTS:  # --pin, --passes, --quant: one value per flag
        for value in section.get(key, ()):
            args += [f"--{key}", value]
    args += ["--warmup", str(warmup), "--repeats", str(max(2, repeats)), "--budget-s", f"{section['budget_s']:g}"]
    if "slo_p99_ms" in section:
        args += ["--slo-p99-ms", f"{section['slo_p99_ms']:g}"]
    if "max_evaluations" in section:
        args += ["--max-evaluations", str(section["max_evaluations"])]
    if "rounds" in section:
        args += ["--rounds", str(section["rounds"])]
    return args
