"""The run report (schema "roofwatch.run/1", engine/report.py) as msgspec
Structs: the one definition the ingest API decodes with and the OpenAPI
schema is generated from (results.report_openapi).

Decoding is strict: unknown keys are refused, nothing is coerced ("12" is no
integer, 1 no boolean), numbers out of a float's range and NaN/Infinity
literals are refused, and every limit below follows the column the value is
stored in (BIGINT, PostgreSQL's PositiveIntegerField, CharField lengths). A
string may not hold NUL (PostgreSQL cannot store it): the schema says so, and
results.report_parser enforces it off the raw bytes (a regex per string would
double the decoding time); msgspec refuses lone surrogates while parsing.
What msgspec cannot declare (one value against another, free-form objects) is
checked by `report_problems`.
"""
import datetime
import operator
import uuid
from typing import Annotated, Any, Literal, Optional

import msgspec
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from msgspec import UNSET, Meta, UnsetType

from core.json_body import MAX_JSON_DEPTH, nested_deeper_than
from core.text import unstorable
from engine.report import (
    ACCURACY_METRICS, BACKEND_ENGINE, BACKENDS, BOUNDS, CALIBRATION_METHODS, CPU_GOVERNOR_MAX_LENGTH, END_TO_END,
    ENGINE_VERSION_MAX_LENGTH, PURPOSES, ROOF_KINDS, SCHEMA, UNDER_TEST,
)
from fleet import models as fleet
from results import models
from results.models import WORK_UNKNOWN_MAX, LayerMeasurement, Run
from results.strict_fields import BIGINT_MAX, POSITIVE_INT_MAX

MAX_BATCH_REPORTS = 100  # and the whole body within ROOFWATCH_MAX_REPORT_BYTES
NO_NUL = r"^[^\x00]*$"  # NUL: PostgreSQL refuses it in text (core.text)
NUL_ESCAPE = b"\\u0000"  # the only spelling of NUL in a JSON string msgspec decodes



def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


# The lengths of the columns the values are stored in.
NAME_MAX, OP_MAX = _max_length(LayerMeasurement, "name"), _max_length(LayerMeasurement, "op")
MODEL_MAX, VERSION_MAX = _max_length(models.Benchmark, "model"), _max_length(Run, "model_version")
FINGERPRINT_MAX, HOST_MAX = _max_length(fleet.Machine, "fingerprint"), _max_length(fleet.Machine, "hostname")
REPOSITORY_MAX = _max_length(models.Project, "repository_url")
COMMIT_MAX, BRANCH_MAX, CI_URL_MAX = (_max_length(Run, name) for name in ("commit", "branch", "ci_url"))


def text(longest: int, shortest: int = 0) -> Any:
    return Annotated[str, Meta(min_length=shortest, max_length=longest, extra_json_schema={"pattern": NO_NUL})]


def whole(low: int, high: int) -> Any:
    return Annotated[int, Meta(ge=low, le=high)]


# A measured time of over a year is a broken clock or a made-up number; bounded,
# detection's least squares cannot overflow (squares of ~1e300 did).
SECONDS_MAX = 365 * 86400.0
Seconds = Annotated[float, Meta(ge=0, le=SECONDS_MAX)]
NonNegative = Annotated[float, Meta(ge=0)]
Peak = Annotated[float, Meta(gt=0, description="a measured peak")]
Count = whole(1, POSITIVE_INT_MAX)
Bytes = whole(0, BIGINT_MAX)
LayerName = text(NAME_MAX, 1)
RowSize = Annotated[str, Meta(pattern=r"^0*[1-9][0-9]*$", description="a row size in bytes")]
LoadAverages = Annotated[list[NonNegative], Meta(min_length=3, max_length=3, description="1, 5, 15 minutes")]
# RFC 3339; one without an offset is taken as UTC, and all are stored in UTC
# (results.report_parser): a moment whose offset takes it past the calendar in
# UTC (before year 1, after 9999) is refused.
Moment = Annotated[datetime.datetime, Meta(extra_json_schema={
    "format": "date-time",
    "description": "RFC 3339 (without an offset: UTC), within the years 1 to 9999 in UTC"})]
FreeForm = dict[str, Any]  # numbers finite, no NUL, at most MAX_JSON_DEPTH deep: report_problems


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    pass


class TimeStats(_Strict, kw_only=True):
    """Seconds per execution: median, quartiles and minimum over n timed repeats;
    the 95% confidence interval of the median (absent in older reports)."""

    median: Seconds
    p25: Seconds
    p75: Seconds
    min: Seconds
    n: Count
    ci_low: Optional[Seconds] = None
    ci_high: Optional[Seconds] = None


class Roof(_Strict, kw_only=True):
    """The machine's roofs under one thread count; gather GB/s by row size in bytes."""

    threads: Count
    gflops: NonNegative
    gbs: NonNegative
    gather_gbs: Annotated[dict[RowSize, Annotated[float, Meta(gt=0)]], Meta(
        description='GB/s by row size in bytes: each key a whole number above 0 ("64")')] = {}


class Machine(_Strict, kw_only=True):
    """The machine that ran the benchmark, with its measured roofline peaks."""

    fingerprint: text(FINGERPRINT_MAX, 1)
    hostname: text(HOST_MAX)
    cpu_model: text(_max_length(fleet.Machine, "cpu_model"))
    cores: Count
    memory_bytes: Bytes
    os: text(_max_length(fleet.Machine, "os"))
    python: text(_max_length(fleet.Machine, "python"))
    numpy: text(_max_length(fleet.Machine, "numpy"))
    blas: text(_max_length(fleet.Machine, "blas"))
    peak_gflops: Peak
    peak_gbs: Peak
    roofs: Annotated[list[Roof], Meta(max_length=64)] = []


class Benchmark(_Strict, kw_only=True):
    """The model, its version (graph and weight-shape hash) and size params."""

    model: text(MODEL_MAX, 1)
    model_version: text(VERSION_MAX, 1)
    params: FreeForm = {}


class Runtime(_Strict, kw_only=True):
    """The runtime a backend other than the engine ran the model in: its
    name and version, and the session options that change its speed."""

    name: text(100, 1)
    version: text(100, 1)
    graph_optimization_level: Optional[text(100)] = None
    intra_op_num_threads: Optional[whole(0, POSITIVE_INT_MAX)] = None
    inter_op_num_threads: Optional[whole(0, POSITIVE_INT_MAX)] = None
    execution_mode: Optional[text(100)] = None
    providers: Annotated[list[text(100, 1)], Meta(max_length=64)] = []


class Config(_Strict, kw_only=True):
    """Engine configuration: passes, quantization mode, threads, feature flags;
    `backend` what ran the model (absent: "engine") and `runtime` its version
    and session options (absent or null for the engine). Both are left out of
    the stored config at those defaults, so engine runs keep their config_hash."""

    passes: list[text(100, 1)] = []
    quant: text(64, 1) = "none"
    threads: Optional[Count] = None
    flags: FreeForm = {}
    inject: list[text(200, 1)] = []
    target_ci: Optional[Annotated[float, Meta(ge=0, le=100)]] = None
    budget_s: Optional[Seconds] = None
    backend: Literal[BACKENDS] | UnsetType = UNSET
    runtime: Optional[Runtime] | UnsetType = UNSET

    def __post_init__(self) -> None:
        # One stored spelling of the defaults: absent (msgspec.to_builtins leaves UNSET out).
        if self.backend == BACKEND_ENGINE:
            self.backend = UNSET
        if self.runtime is None:
            self.runtime = UNSET

    @property
    def backend_name(self) -> str:
        return BACKEND_ENGINE if self.backend is UNSET else self.backend


class Source(_Strict, kw_only=True):
    """The code version the run measured; ci_url is an http(s) URL (a link on the dashboard)."""

    repository: text(REPOSITORY_MAX) = ""
    commit: text(COMMIT_MAX) = ""
    branch: text(BRANCH_MAX) = ""
    commit_time: Optional[Moment] = None
    ci_url: Optional[Annotated[str, Meta(max_length=CI_URL_MAX, pattern=r"^(https?://[^\s\x00]+)?$")]] = None
    # What the commit changes (the engine or the model) and the engine that ran it; UNSET
    # when absent, so the decoded Struct of an older report (its payload hash) is unchanged.
    under_test: Literal[UNDER_TEST] | UnsetType = UNSET
    engine_version: text(ENGINE_VERSION_MAX_LENGTH) | UnsetType = UNSET


class Layer(_Strict, kw_only=True):
    """One executed layer: work (FLOPs, bytes), time, the roofline verdict and
    the roofs that judge it (absent in older reports: then the machine's peaks).
    flops, bytes, gflops, gbs, ai and bound are null exactly when work_unknown
    says why the work cannot be known (a backend other than the engine)."""

    name: LayerName
    op: text(OP_MAX, 1)
    index: whole(0, POSITIVE_INT_MAX)
    sources: list[LayerName]
    flops: Optional[Bytes]
    bytes: Optional[Bytes]
    time: TimeStats
    gflops: Optional[NonNegative]
    gbs: Optional[NonNegative]
    ai: Optional[NonNegative]
    bound: Optional[Literal[BOUNDS]]
    threads: Optional[Count] = None
    roof: Optional[Literal[ROOF_KINDS]] = None
    roof_gflops: Optional[NonNegative] = None
    roof_gbs: Optional[NonNegative] = None
    kernel_bytes: Optional[Bytes] = None
    work_unknown: Optional[text(WORK_UNKNOWN_MAX, 1)] = None


# What a layer of unknown work leaves null (and one of known work may not).
WORK_FIELDS = ("flops", "bytes", "gflops", "gbs", "ai", "bound")
_work = operator.attrgetter(*WORK_FIELDS)


class Conditions(_Strict, kw_only=True):
    """How quiet the machine was around the run (the agent's quiet wait); every
    field optional, and stored only where sent."""

    loadavg_before: LoadAverages | UnsetType = UNSET
    loadavg_start: LoadAverages | UnsetType = UNSET
    loadavg_after: LoadAverages | UnsetType = UNSET
    max_load: Optional[NonNegative] | UnsetType = UNSET
    quiet: bool | UnsetType = UNSET
    waited_seconds: Seconds | UnsetType = UNSET
    cpus: Optional[Annotated[list[whole(0, 65535)], Meta(max_length=4096)]] | UnsetType = UNSET
    cpu_governor: Optional[text(CPU_GOVERNOR_MAX_LENGTH, 1)] | UnsetType = UNSET
    turbo: Optional[bool] | UnsetType = UNSET


class Accuracy(_Strict, kw_only=True):
    """A quantized run's accuracy delta against the fp32 model; agreement is null
    exactly when metric is "none"."""

    reference: Literal["fp32"]
    samples: Count
    max_abs_error: NonNegative
    mean_abs_error: NonNegative
    metric: Literal[ACCURACY_METRICS]
    agreement: Optional[Annotated[float, Meta(ge=0, le=1)]]
    fp32_layers: Annotated[list[LayerName], Meta(max_length=100_000)]
    calibration: Optional[Literal[CALIBRATION_METHODS]]


class Report(_Strict, kw_only=True):
    """A run report, schema "roofwatch.run/1" (engine/report.py). purpose: "" an
    ordinary run; "bisect" a run a bisection asked for at an old commit (stored,
    never in a series)."""

    schema: Literal[SCHEMA]
    idempotency_key: uuid.UUID
    machine: Machine
    benchmark: Benchmark
    config: Config
    source: Source
    started_at: Moment
    warmup: whole(0, POSITIVE_INT_MAX)
    repeats: Count
    end_to_end: TimeStats
    layers: Annotated[list[Layer], Meta(min_length=1)]
    profiler_overhead: Optional[Annotated[float, Meta(ge=-1)]] = None
    conditions: Optional[Conditions] = None
    accuracy: Optional[Accuracy] = None
    timed_page_faults: Optional[Bytes] = None
    purpose: Literal[PURPOSES] = ""


class RawBatch(_Strict, kw_only=True):
    """A batch upload (POST /api/v1/runs/batch/): up to 100 run reports, each a
    Report, each decoded and answered on its own, so an item that is no valid
    Report gets its own 400 in the answer, not the batch. Read with each report
    left as its bytes."""

    reports: Annotated[list[msgspec.Raw], Meta(min_length=1, max_length=MAX_BATCH_REPORTS)]


REPORT_DECODER = msgspec.json.Decoder(Report)
BATCH_DECODER = msgspec.json.Decoder(RawBatch)
_HTTP_URL = URLValidator(schemes=["http", "https"])

Problems = dict[str, list[str]]  # messages by field path, "layers[3].time.median"


def report_problems(report: Report) -> Problems:
    """What the declared types cannot say: one value against another, URLs,
    free-form objects. Empty for a report that may be stored."""
    problems: Problems = {}

    def add(path: str, message: str) -> None:
        problems.setdefault(path, []).append(message)

    for field, message in time_stats_problems(report.end_to_end):
        add(f"end_to_end.{field}", message)
    first_index: dict[int, int] = {}
    first_name: dict[str, int] = {}
    # Paths are built only for a layer with a problem: this loop runs for every
    # layer of every upload, and the checks below cost less than the f-strings.
    for pos, layer in enumerate(report.layers):
        for field, message in time_stats_problems(layer.time):
            add(f"layers[{pos}].time.{field}", message)
        other = first_index.setdefault(layer.index, pos)
        if other != pos:
            add(f"layers[{pos}].index", f"Duplicate layer index {layer.index} (also at layers[{other}]).")
        other = first_name.setdefault(layer.name, pos)
        if other != pos:
            add(f"layers[{pos}].name", f"Duplicate layer name {layer.name!r} (also at layers[{other}]).")
        elif layer.name == END_TO_END:
            add(f"layers[{pos}].name", f"{END_TO_END!r} is reserved for the whole-model series.")
        if (None in _work(layer)) if layer.work_unknown is None else any(v is not None for v in _work(layer)):
            for field, message in work_problems(layer):
                add(f"layers[{pos}].{field}", message)
    for path, value in (("benchmark.params", report.benchmark.params), ("config.flags", report.config.flags)):
        if message := free_form_problem(value, path.rsplit(".", 1)[1]):
            add(path, message)
    if report.source.ci_url:
        try:
            _HTTP_URL(report.source.ci_url)
        except DjangoValidationError:
            add("source.ci_url", "Enter a valid http(s) URL.")
    backend, params_backend = report.config.backend_name, report.benchmark.params.get("backend", BACKEND_ENGINE)
    if params_backend != backend:  # the params name the series: two backends' runs must never share one
        add("benchmark.params.backend", f"Must be {backend!r} as config.backend says"
            f"{'' if backend != BACKEND_ENGINE else ' (or absent)'}, got {params_backend!r}.")
    accuracy = report.accuracy
    if accuracy is not None and (accuracy.metric == "none") != (accuracy.agreement is None):
        add("accuracy.agreement", "Must be null exactly when metric is 'none'.")
    return problems


def work_problems(layer: Layer) -> list[tuple[str, str]]:
    """(field, message) where a layer's work fields disagree with work_unknown:
    all null when it is set, none null when it is not."""
    if layer.work_unknown is None:
        return [(f, "Must not be null unless work_unknown says why the work is unknown.")
                for f in WORK_FIELDS if getattr(layer, f) is None]
    return [(f, "Must be null when work_unknown is set (the work is not known).")
            for f in WORK_FIELDS if getattr(layer, f) is not None]


def time_stats_problems(t: TimeStats) -> list[tuple[str, str]]:
    """(field, message) of statistics that contradict each other."""
    if t.min <= t.p25 <= t.median <= t.p75 and (
        (t.ci_low is None and t.ci_high is None)
        or (t.ci_low is not None and t.ci_high is not None and t.ci_low <= t.median <= t.ci_high)
    ):
        return []  # the usual case, in one test
    found = []
    if (t.ci_low is None) != (t.ci_high is None):
        found.append(("ci_high" if t.ci_high is None else "ci_low", "ci_low and ci_high come together or not at all."))
    elif t.ci_low is not None and not t.ci_low <= t.median <= t.ci_high:
        found.append(("ci_low", f"The interval [{t.ci_low!r}, {t.ci_high!r}] must contain the median ({t.median!r})."))
    if t.min > t.p25:
        found.append(("min", f"Must be <= p25 ({t.p25!r}), got {t.min!r}."))
    if t.p25 > t.median:
        found.append(("p25", f"Must be <= median ({t.median!r}), got {t.p25!r}."))
    if t.median > t.p75:
        found.append(("p75", f"Must be >= median ({t.median!r}), got {t.p75!r}."))
    return found


def free_form_problem(value: Any, where: str) -> str | None:
    """What is wrong with a free-form object (benchmark params, config flags),
    stored as jsonb: nesting, text PostgreSQL cannot store, numbers that are
    not finite (only parsed values can hold them: msgspec refuses them)."""
    if not isinstance(value, dict):
        return None
    if nested_deeper_than(value, MAX_JSON_DEPTH):
        return f"Nested more than {MAX_JSON_DEPTH} levels deep."
    pending: list[tuple[Any, str]] = [(value, where)]
    while pending:
        node, where = pending.pop()
        if isinstance(node, float) and node - node != 0:  # inf - inf and nan - nan are nan
            return f"Expected finite numbers only, got {node!r} at {where}."
        if getattr(node, "non_finite", None):  # results.report_errors.NonFinite, a NaN/Infinity literal
            return f"Expected finite numbers only, got {node} at {where}."
        if isinstance(node, str) and (what := unstorable(node)):
            return f"Must not contain {what}; found at {where}."
        if isinstance(node, dict):
            for key in node:
                if what := unstorable(key):
                    return f"Must not contain {what}; found at a key of {where}: {key!r}."
            children = [(child, f"{where}.{key}") for key, child in node.items()]
        elif isinstance(node, list):
            children = [(child, f"{where}[{i}]") for i, child in enumerate(node)]
        else:
            continue
        pending.extend(reversed(children))  # popped in document order
    return None
