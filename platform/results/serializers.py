"""Validation of a whole run report (schema "roofwatch.run/1", engine/report.py)
before anything is written. Field lengths follow the models they are stored in.

`validate_report(data)` returns the validated report or raises a
ValidationError whose detail nests like the report (core.errors flattens it to
paths such as "layers[3].time.median").

The serializers below are the definition. A valid report goes through their
quick check (`quick_check`, built once from the same fields); anything it cannot
vouch for goes through DRF, which words every error exactly as before.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

from engine.report import BOUNDS, CPU_GOVERNOR_MAX_LENGTH, END_TO_END, PURPOSES, ROOF_KINDS, SCHEMA
from fleet.models import Machine
from results.models import Benchmark, LayerMeasurement, Project, Run
from results.strict_fields import (
    BIGINT_MAX,
    POSITIVE_INT_MAX,
    JSONObjectField,
    StrictCharField,
    StrictChoiceField,
    StrictDateTimeField,
    StrictFloatField,
    StrictIntegerField,
    StrictURLField,
    StrictUUIDField,
    NotVouched,
    QuickCheck,
    allowing_null,
    json_type_name,
    quick_field_check,
)


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses keys it does not declare: an unknown key in a
    versioned report means the sender speaks another version of the schema."""

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": [f"Expected a JSON object, got {json_type_name(data)}."]})
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            errors = dict(exc.detail)
        expected = ", ".join(self.fields)
        for key in data:
            if key not in self.fields:
                errors[key] = [ErrorDetail(f"Unknown field; expected only: {expected}.", code="unknown_field")]
        if errors:
            raise ValidationError(errors)
        return value


class TimeStatsSerializer(StrictSerializer):
    """Seconds per execution: median, quartiles and minimum over n timed repeats."""

    median = StrictFloatField(min_value=0)
    p25 = StrictFloatField(min_value=0)
    p75 = StrictFloatField(min_value=0)
    min = StrictFloatField(min_value=0)
    n = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX)
    # The 95% confidence interval of the median; absent in older reports.
    ci_low = StrictFloatField(min_value=0, allow_null=True, required=False, default=None)
    ci_high = StrictFloatField(min_value=0, allow_null=True, required=False, default=None)

    def validate(self, attrs: dict) -> dict:
        errors = {}
        low, high = attrs.get("ci_low"), attrs.get("ci_high")
        if (low is None) != (high is None):
            errors["ci_high" if high is None else "ci_low"] = ["ci_low and ci_high come together or not at all."]
        elif low is not None and not low <= attrs["median"] <= high:
            errors["ci_low"] = [f"The interval [{low!r}, {high!r}] must contain the median ({attrs['median']!r})."]
        if attrs["min"] > attrs["p25"]:
            errors["min"] = [f"Must be <= p25 ({attrs['p25']!r}), got {attrs['min']!r}."]
        if attrs["p25"] > attrs["median"]:
            errors["p25"] = [f"Must be <= median ({attrs['median']!r}), got {attrs['p25']!r}."]
        if attrs["median"] > attrs["p75"]:
            errors["p75"] = [f"Must be >= median ({attrs['median']!r}), got {attrs['p75']!r}."]
        if errors:
            raise ValidationError(errors)
        return attrs


class GatherRoofsField(JSONObjectField):
    """Random-row gather GB/s by row size in bytes: {"64": 1.9, "256": 6.3}."""

    def to_internal_value(self, data: Any) -> dict:
        data = super().to_internal_value(data)
        for key, value in data.items():
            if not key.isdigit() or int(key) < 1:
                raise ValidationError(f"Key {key!r}: must be a row size in bytes (a positive integer).")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValidationError(f"Value of {key!r}: must be a measured GB/s > 0, got {value!r}.")
        return data


class RoofSerializer(StrictSerializer):
    """The machine's roofs under one thread count."""

    threads = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX)
    gflops = StrictFloatField(min_value=0)
    gbs = StrictFloatField(min_value=0)
    gather_gbs = GatherRoofsField(required=False, default=dict)


class MachineSerializer(StrictSerializer):
    """The machine that ran the benchmark, with its measured roofline peaks."""

    fingerprint = StrictCharField(max_length=_max_length(Machine, "fingerprint"))
    hostname = StrictCharField(max_length=_max_length(Machine, "hostname"), allow_blank=True)
    cpu_model = StrictCharField(max_length=_max_length(Machine, "cpu_model"), allow_blank=True)
    cores = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX)
    memory_bytes = StrictIntegerField(min_value=0, max_value=BIGINT_MAX)
    os = StrictCharField(max_length=_max_length(Machine, "os"), allow_blank=True)
    python = StrictCharField(max_length=_max_length(Machine, "python"), allow_blank=True)
    numpy = StrictCharField(max_length=_max_length(Machine, "numpy"), allow_blank=True)
    blas = StrictCharField(max_length=_max_length(Machine, "blas"), allow_blank=True)
    # Measured by the engine's probes; the roofline divides by them.
    peak_gflops = StrictFloatField(min_value=0)
    peak_gbs = StrictFloatField(min_value=0)
    roofs = RoofSerializer(many=True, required=False, default=list, max_length=64)

    def validate(self, attrs: dict) -> dict:
        errors = {k: ["Must be > 0: a measured peak."] for k in ("peak_gflops", "peak_gbs") if attrs[k] <= 0}
        if errors:
            raise ValidationError(errors)
        return attrs


class BenchmarkSerializer(StrictSerializer):
    """The model, its version (graph and weight-shape hash) and size params."""

    model = StrictCharField(max_length=_max_length(Benchmark, "model"))
    model_version = StrictCharField(max_length=_max_length(Run, "model_version"))
    params = JSONObjectField(required=False, default=dict)


class ConfigSerializer(StrictSerializer):
    """Engine configuration: passes, quantization mode, threads, feature flags."""

    passes = serializers.ListField(child=StrictCharField(max_length=100), required=False, default=list)
    quant = StrictCharField(max_length=64, required=False, default="none")
    threads = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX, allow_null=True, required=False, default=None)
    flags = JSONObjectField(required=False, default=dict)
    inject = serializers.ListField(child=StrictCharField(max_length=200), required=False, default=list)
    target_ci = StrictFloatField(min_value=0, max_value=100, allow_null=True, required=False, default=None)
    budget_s = StrictFloatField(min_value=0, allow_null=True, required=False, default=None)


class SourceSerializer(StrictSerializer):
    """The code version the run measured."""

    repository = StrictCharField(
        max_length=_max_length(Project, "repository_url"), allow_blank=True, required=False, default=""
    )
    commit = StrictCharField(max_length=_max_length(Run, "commit"), allow_blank=True, required=False, default="")
    branch = StrictCharField(max_length=_max_length(Run, "branch"), allow_blank=True, required=False, default="")
    commit_time = StrictDateTimeField(allow_null=True, required=False, default=None)
    # Shown as a link on the dashboard, so only http(s) URLs.
    ci_url = StrictURLField(
        max_length=_max_length(Run, "ci_url"), allow_null=True, allow_blank=True, required=False, default=None
    )


class LayerSerializer(StrictSerializer):
    """One executed layer: work (FLOPs, bytes), time and the roofline verdict."""

    name = StrictCharField(max_length=_max_length(LayerMeasurement, "name"))
    op = StrictCharField(max_length=_max_length(LayerMeasurement, "op"))
    index = StrictIntegerField(min_value=0, max_value=POSITIVE_INT_MAX)
    sources = serializers.ListField(child=StrictCharField(max_length=_max_length(LayerMeasurement, "name")))
    flops = StrictIntegerField(min_value=0, max_value=BIGINT_MAX)
    bytes = StrictIntegerField(min_value=0, max_value=BIGINT_MAX)
    time = TimeStatsSerializer()
    gflops = StrictFloatField(min_value=0)
    gbs = StrictFloatField(min_value=0)
    ai = StrictFloatField(min_value=0)
    bound = StrictChoiceField(choices=BOUNDS)
    # The roofs that judge this layer (absent in older reports: then the machine's peaks).
    threads = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX, allow_null=True, required=False,
                                 default=None)
    roof = StrictChoiceField(choices=ROOF_KINDS, allow_null=True, required=False, default=None)
    roof_gflops = StrictFloatField(min_value=0, allow_null=True, required=False, default=None)
    roof_gbs = StrictFloatField(min_value=0, allow_null=True, required=False, default=None)
    # What the kernel really moves, where more than `bytes` (the minimum traffic).
    kernel_bytes = StrictIntegerField(min_value=0, max_value=BIGINT_MAX, allow_null=True, required=False,
                                      default=None)


def _loadavg() -> serializers.ListField:
    """[1, 5, 15]-minute load averages."""
    return serializers.ListField(child=StrictFloatField(min_value=0), min_length=3, max_length=3, required=False)


class ConditionsSerializer(StrictSerializer):
    """How quiet the machine was around the run (the agent's quiet wait); every field optional."""

    loadavg_before = _loadavg()
    loadavg_start = _loadavg()
    loadavg_after = _loadavg()
    max_load = StrictFloatField(min_value=0, allow_null=True, required=False)
    quiet = serializers.BooleanField(required=False)
    waited_seconds = StrictFloatField(min_value=0, required=False)
    cpus = serializers.ListField(child=StrictIntegerField(min_value=0, max_value=65535), allow_null=True,
                                 required=False, max_length=4096)
    # sysfs' scaling_governor of the measured CPUs (distinct ones comma-joined) and
    # turbo/boost on or off; null where the machine does not say
    cpu_governor = StrictCharField(max_length=CPU_GOVERNOR_MAX_LENGTH, allow_null=True, required=False)
    turbo = serializers.BooleanField(allow_null=True, required=False)


class AccuracySerializer(StrictSerializer):
    """A quantized run's accuracy delta against the fp32 model on held-out synthetic inputs
    (engine.quant.accuracy); null for an fp32 run."""

    reference = StrictChoiceField(choices=("fp32",))
    samples = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX)
    max_abs_error = StrictFloatField(min_value=0)
    mean_abs_error = StrictFloatField(min_value=0)
    metric = StrictChoiceField(choices=("auc_agreement", "top1_agreement", "none"))
    agreement = StrictFloatField(min_value=0, max_value=1, allow_null=True)
    fp32_layers = serializers.ListField(child=StrictCharField(max_length=_max_length(LayerMeasurement, "name")),
                                        max_length=100_000)
    calibration = StrictChoiceField(choices=("minmax", "percentile", "kl"), allow_null=True)

    def validate(self, attrs: dict) -> dict:
        if (attrs["metric"] == "none") != (attrs["agreement"] is None):
            raise ValidationError({"agreement": ["Must be null exactly when metric is 'none'."]})
        return attrs


class ReportSerializer(StrictSerializer):
    """A run report, schema "roofwatch.run/1" (engine/report.py)."""

    schema = StrictCharField(max_length=64, help_text=f"must be {SCHEMA!r}")
    idempotency_key = StrictUUIDField()
    machine = MachineSerializer()
    benchmark = BenchmarkSerializer()
    config = ConfigSerializer()
    source = SourceSerializer()
    started_at = StrictDateTimeField()
    warmup = StrictIntegerField(min_value=0, max_value=POSITIVE_INT_MAX)
    repeats = StrictIntegerField(min_value=1, max_value=POSITIVE_INT_MAX)
    end_to_end = TimeStatsSerializer()
    layers = LayerSerializer(many=True, allow_empty=False)
    profiler_overhead = StrictFloatField(allow_null=True, required=False, default=None, min_value=-1.0)
    conditions = ConditionsSerializer(allow_null=True, required=False, default=None)
    accuracy = AccuracySerializer(allow_null=True, required=False, default=None)
    timed_page_faults = StrictIntegerField(min_value=0, max_value=BIGINT_MAX, allow_null=True, required=False,
                                           default=None)
    purpose = StrictChoiceField(choices=PURPOSES, required=False, default="", help_text=(
        '"" an ordinary run; "bisect" a run a bisection asked for at an old commit: stored, never in a series'))

    def to_internal_value(self, data: Any) -> dict:
        # Check the version first: field errors against the wrong schema are noise.
        if isinstance(data, Mapping) and data.get("schema") != SCHEMA:
            got = data.get("schema")
            if got is None:
                message = f"This field is required: this server accepts {SCHEMA!r} reports."
            else:
                message = f"Unsupported report schema {got!r}: this server accepts {SCHEMA!r} only."
            raise ValidationError({"schema": [message]})
        return super().to_internal_value(data)

    def validate_layers(self, layers: list[dict]) -> list[dict]:
        errors: dict[int, dict[str, list[str]]] = {}
        first_with_index: dict[int, int] = {}
        first_with_name: dict[str, int] = {}
        for pos, layer in enumerate(layers):
            problems: dict[str, list[str]] = {}
            other = first_with_index.setdefault(layer["index"], pos)
            if other != pos:
                problems["index"] = [f"Duplicate layer index {layer['index']} (also at layers[{other}])."]
            other = first_with_name.setdefault(layer["name"], pos)
            if other != pos:
                problems["name"] = [f"Duplicate layer name {layer['name']!r} (also at layers[{other}])."]
            elif layer["name"] == END_TO_END:
                problems["name"] = [f"{END_TO_END!r} is reserved for the whole-model series."]
            if problems:
                errors[pos] = problems
        if errors:
            raise ValidationError(errors)
        return layers


MAX_BATCH_REPORTS = 100  # and the whole body within ROOFWATCH_MAX_REPORT_BYTES


class BatchSerializer(StrictSerializer):
    """A batch upload (POST /api/v1/runs/batch/). Describes the request in the
    API schema; `batch_reports` checks the envelope and leaves each report to
    be validated on its own, so one bad report does not refuse the others."""

    reports = ReportSerializer(many=True, allow_empty=False, max_length=MAX_BATCH_REPORTS)


def batch_reports(data: Any) -> list:
    """The reports of a batch upload body, or ValidationError about the envelope."""
    if not isinstance(data, Mapping):
        raise ValidationError({"non_field_errors": [
            f'Expected a JSON object {{"reports": [...]}}, got {json_type_name(data)}.'
        ]})
    errors = {key: ["Unknown field; expected only: reports."] for key in data if key != "reports"}
    reports = data.get("reports")
    if "reports" not in data:
        errors["reports"] = ["This field is required."]
    elif not isinstance(reports, list):
        errors["reports"] = [f"Expected a list of reports, got {json_type_name(reports)}."]
    elif not reports:
        errors["reports"] = ["This list may not be empty."]
    elif len(reports) > MAX_BATCH_REPORTS:
        errors["reports"] = [f"At most {MAX_BATCH_REPORTS} reports per batch, got {len(reports)}; split the upload."]
    if errors:
        raise ValidationError(errors)
    return reports


def validate_report(data: Any) -> dict:
    """The validated report (datetimes and UUID parsed, defaults filled), or ValidationError."""
    if isinstance(data, dict) and data.get("schema") == SCHEMA:  # ReportSerializer checks the version first
        try:
            return _quick_report_check()(data)
        except NotVouched:
            pass
    serializer = ReportSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@cache
def _quick_report_check() -> QuickCheck:
    return quick_check(ReportSerializer())


def quick_check(field: serializers.Field) -> QuickCheck:
    """A function returning what `field.run_validation(data)` returns for data it
    can vouch for, raising NotVouched otherwise (see strict_fields). Built once
    from a bound field: serializers, lists of serializers, ListFields and the
    strict leaf fields get their own; any other field its own run_validation."""
    if isinstance(field, (serializers.ListSerializer, serializers.ListField)) and not field.validators:
        return _quick_list(field, quick_check(field.child))
    if isinstance(field, serializers.Serializer) and not field.validators:
        return _quick_serializer(field)
    return quick_field_check(field)


def _quick_list(field: serializers.Field, check_item: QuickCheck) -> QuickCheck:
    allow_empty = field.allow_empty
    longest, shortest = getattr(field, "max_length", None), getattr(field, "min_length", None)
    validate = getattr(field, "validate", None)  # ListSerializer.validate; a ListField has none

    def check(data: Any) -> list:
        if type(data) is not list or (not data and not allow_empty):
            raise NotVouched
        if (longest is not None and len(data) > longest) or (shortest is not None and len(data) < shortest):
            raise NotVouched
        items = [check_item(item) for item in data]
        return items if validate is None else _vouched(validate, items)
    return allowing_null(field, check)


# The to_internal_value methods _quick_serializer reproduces: DRF's, StrictSerializer's
# unknown keys, and ReportSerializer's version check (validate_report makes it first).
QUICK_TO_INTERNAL_VALUE = (
    serializers.Serializer.to_internal_value, StrictSerializer.to_internal_value, ReportSerializer.to_internal_value,
)


def _quick_serializer(serializer: serializers.Serializer) -> QuickCheck:
    kind = type(serializer)
    if kind.run_validation is not serializers.Serializer.run_validation or (
        kind.to_internal_value not in QUICK_TO_INTERNAL_VALUE
    ):
        return quick_field_check(serializer)  # an override the quick check would skip: DRF's own validation
    entries = []
    for field in serializer._writable_fields:
        if field.source_attrs != [field.field_name]:
            return quick_field_check(serializer)  # values stored under other names: DRF's own validation
        hook = getattr(serializer, f"validate_{field.field_name}", None)
        entries.append((field.field_name, quick_check(field), field.required, _default_maker(field), hook))
    known = frozenset(name for name, *_ in entries)
    strict = isinstance(serializer, StrictSerializer)
    validate = serializer.validate

    def check(data: Any) -> dict:
        if type(data) is not dict or (strict and not known.issuperset(data)):
            raise NotVouched
        values = {}
        for name, check_value, required, default, hook in entries:
            if name in data:
                value = check_value(data[name])
                if hook is not None:
                    value = _vouched(hook, value)
            elif required:
                raise NotVouched
            elif default is None:
                continue  # no default: DRF leaves the key out
            else:
                value = default()
            values[name] = value
        return _vouched(validate, values)
    return allowing_null(serializer, check)


def _default_maker(field: serializers.Field):
    """What Field.get_default does, as a function; None when the field has no default."""
    default = field.default
    if default is serializers.empty:
        return None
    if getattr(default, "requires_context", False):
        return lambda: default(field)
    return default if callable(default) else lambda: default


def _vouched(validate, value):
    try:
        return validate(value)
    except (ValidationError, DjangoValidationError):
        raise NotVouched from None
