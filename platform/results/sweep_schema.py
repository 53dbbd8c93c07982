"""The sweep report (schema "roofwatch.sweep/1", engine/sweep/report.py) as
msgspec Structs, strict as the run report's (results.report_schema): unknown
keys refused, nothing coerced, every limit that of the column the value is
stored in. `sweep_problems` checks what types cannot say."""
import uuid
from typing import Annotated, Literal, Optional, Union

import msgspec
from msgspec import Meta

from engine.sweep.report import KNOBS, MODES, ROUNDS_MAX, STATUS_OK, STATUSES, SWEEP_SCHEMA
from results.models import SweepPoint
from results.report_schema import (
    FINGERPRINT_MAX, HOST_MAX, MODEL_MAX, Count, FreeForm, Moment, NonNegative, Problems, Source, _Strict,
    free_form_problem, text, whole,
)
from results.strict_fields import POSITIVE_INT_MAX

MAX_POINTS = 10_000  # configurations in one sweep
Positive = Annotated[float, Meta(gt=0)]
# samples/s: its inverse (seconds per sample, the best-under-SLO series) must be a finite float
Throughput = Annotated[float, Meta(ge=1e-9)]
Cpu = whole(0, 65_535)


def _length(field: str) -> int:
    return SweepPoint._meta.get_field(field).max_length


class SweepMachine(_Strict, kw_only=True):
    fingerprint: text(FINGERPRINT_MAX, 1)
    hostname: text(HOST_MAX)
    cpu_model: text(200)
    cores: Count


class SystemKnob(_Strict, kw_only=True):
    """A system knob as read (engine/sweep/system_knobs.py): its value (null: not readable),
    where it came from, whether this user could change it, and what changes it."""
    value: Union[text(200), int, bool, None]
    source: text(500)
    settable: bool
    how: text(500)


class SweepGrid(_Strict, kw_only=True):
    threads: Annotated[list[Count], Meta(min_length=1)]
    batch: Annotated[list[Count], Meta(min_length=1)]
    instances: Annotated[list[Count], Meta(min_length=1)]
    pin: Annotated[list[text(_length("pin"), 1)], Meta(min_length=1)]
    passes: Annotated[list[text(_length("passes"), 1)], Meta(min_length=1)]
    quant: Annotated[list[text(_length("quant"), 1)], Meta(min_length=1)]


class SweepConfigResult(_Strict, kw_only=True):
    """One configuration and what it measured; the measurements are null
    exactly when it did not run (status failed or skipped, with the error)."""
    threads: Count
    batch: Count
    instances: Count
    pin: text(_length("pin"), 1)
    passes: text(_length("passes"), 1)
    quant: text(_length("quant"), 1)
    status: Literal[STATUSES]
    error: text(_length("error")) = ""
    cores: Optional[list[Annotated[list[Cpu], Meta(min_length=1)]]] = None
    p25_ms: Optional[NonNegative] = None
    p50_ms: Optional[NonNegative] = None
    p75_ms: Optional[NonNegative] = None
    p99_ms: Optional[NonNegative] = None
    throughput: Optional[Throughput] = None
    timed_passes: whole(0, POSITIVE_INT_MAX) = 0
    span_s: Optional[Positive] = None
    faults_per_pass: Optional[NonNegative] = None
    # each round's value (the fields above are their medians); empty when it did not run, and before rounds
    throughput_rounds: Annotated[list[Throughput], Meta(max_length=ROUNDS_MAX)] = []
    p99_ms_rounds: Annotated[list[NonNegative], Meta(max_length=ROUNDS_MAX)] = []


class SweepReport(_Strict, kw_only=True):
    """A sweep report, schema "roofwatch.sweep/1"."""
    schema: Literal[SWEEP_SCHEMA]
    idempotency_key: uuid.UUID
    started_at: Moment
    mode: Literal[MODES]
    model: text(MODEL_MAX, 1)
    params: FreeForm
    machine: SweepMachine
    knobs: dict[text(50, 1), SystemKnob]
    source: Source
    warmup: whole(0, POSITIVE_INT_MAX)
    repeats: Count
    grid: SweepGrid
    results: Annotated[list[SweepConfigResult], Meta(min_length=1, max_length=MAX_POINTS)]
    slo_p99_ms: Optional[Positive] = None
    budget_s: Optional[Positive] = None
    load_before: Optional[NonNegative] = None
    load_after: Optional[NonNegative] = None
    rounds: whole(1, ROUNDS_MAX) = 1


SWEEP_DECODER = msgspec.json.Decoder(SweepReport)
MEASURED = ("p25_ms", "p50_ms", "p75_ms", "p99_ms", "throughput", "span_s")
ROUND_LISTS = (("throughput_rounds", "throughput"), ("p99_ms_rounds", "p99_ms"))


def sweep_problems(report: SweepReport) -> Problems:
    """What the declared types cannot say: measurements present exactly for
    the configurations that ran, quantiles in order, the rounds' values no
    more than the report's rounds and around their median, each configuration
    once and drawn from the grid, the free-form params."""
    problems: Problems = {}

    def add(path: str, message: str) -> None:
        problems.setdefault(path, []).append(message)

    if message := free_form_problem(report.params, "params"):
        add("params", message)
    if "batch" in report.params:
        add("params.batch", "The batch size is a knob of each configuration, not a param of the sweep.")
    seen: dict[tuple, int] = {}
    for pos, point in enumerate(report.results):
        ran = point.status == STATUS_OK
        for field in MEASURED:
            if (getattr(point, field) is None) == ran:
                add(f"results[{pos}].{field}", "Required for a configuration that ran." if ran
                    else f"Must be null for a configuration that {point.status}.")
        if not ran and not point.error:
            add(f"results[{pos}].error", f"Say why the configuration {point.status}.")
        quantiles = (point.p25_ms, point.p50_ms, point.p75_ms, point.p99_ms)
        if ran and None not in quantiles and not quantiles[0] <= quantiles[1] <= quantiles[2] <= quantiles[3]:
            add(f"results[{pos}].p99_ms", "Need p25_ms <= p50_ms <= p75_ms <= p99_ms.")
        if ran and point.p50_ms == 0:
            add(f"results[{pos}].p50_ms", "A forward pass takes more than 0 ms.")
        if ran and point.timed_passes < 1:
            add(f"results[{pos}].timed_passes", "A configuration that ran timed at least one pass.")
        for name, median in ROUND_LISTS:
            values, path = getattr(point, name), f"results[{pos}].{name}"
            if values and not ran:
                add(path, f"Must be empty for a configuration that {point.status}.")
            elif len(values) > report.rounds:
                add(path, f"{len(values)} values, more than the report's {report.rounds} rounds.")
            elif values and (got := getattr(point, median)) is not None and not min(values) <= got <= max(values):
                add(path, f"{median} is the median of these rounds, so lies within their range.")
        if len(point.throughput_rounds) != len(point.p99_ms_rounds):
            add(f"results[{pos}].p99_ms_rounds", "One value per round, as throughput_rounds has.")
        knobs = tuple(getattr(point, k) for k in KNOBS)
        other = seen.setdefault(knobs, pos)
        if other != pos:
            add(f"results[{pos}]", f"The same configuration as results[{other}].")
        for knob in KNOBS:
            if getattr(point, knob) not in getattr(report.grid, knob):
                add(f"results[{pos}].{knob}", f"{getattr(point, knob)!r} is not among the grid's {knob} values.")
    return problems
