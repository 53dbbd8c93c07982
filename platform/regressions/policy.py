"""Which detection policy applies to a series: each value from the most
specific DetectionPolicy that sets it, series -> benchmark -> project, else
the built-in default.

Within the series level, a policy naming the machine and the layer comes
first, then one naming the layer only (every machine), then one naming the
machine only (every layer). `Policies.load` reads every policy that can apply
to one benchmark in one query, so detection resolves all of a benchmark's
series without more.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from engine.report import END_TO_END
from regressions.models import BOTH, IMPROVED, REGRESSION, UP, DetectionPolicy
from results.models import Benchmark

# The smallest relative change worth an alert. A run has tens of layers, each
# a series with its own noise, so a layer needs a larger change than the whole
# model before it is worth an engineer's time.
MIN_END_TO_END_CHANGE = 0.02
MIN_LAYER_CHANGE = 0.05
DEFAULT_BAD_DIRECTION = {"median": UP}  # a higher time is worse
SERIES, BENCHMARK, PROJECT, DEFAULT = "series", "benchmark", "project", "default"
FIELDS = ("min_rel_change", "bad_direction", "window", "muted", "alert_improvements")


@dataclass(frozen=True)
class EffectivePolicy:
    """The policy of one series and metric: each value, and where it came from
    (`sources`: field -> "series", "benchmark", "project" or "default")."""

    min_rel_change: float
    bad_direction: str  # UP, DOWN or BOTH, for the metric asked
    window: int
    muted: bool
    alert_improvements: bool
    sources: tuple[tuple[str, str], ...]

    def source(self, name: str) -> str:
        return dict(self.sources)[name]

    def direction(self, rel_change: float) -> str:
        """REGRESSION or IMPROVED for a change of the metric by `rel_change`."""
        if self.bad_direction == BOTH:
            return REGRESSION
        worse = rel_change > 0 if self.bad_direction == UP else rel_change < 0
        return REGRESSION if worse else IMPROVED

    def as_json(self) -> dict:
        """What an alert stores (Alert.policy): {field: {"value": ..., "source": ...}}."""
        sources = dict(self.sources)
        return {name: {"value": getattr(self, name), "source": sources[name]} for name in FIELDS}


class Policies:
    """The policies that can apply to the series of one benchmark."""

    def __init__(self, benchmark_id: int, policies: list[DetectionPolicy]) -> None:
        self.benchmark_id = benchmark_id
        self.policies = policies

    @classmethod
    def load(cls, benchmark: Benchmark | int) -> Policies:
        """One query: the benchmark's own policies and its project's."""
        benchmark_id = benchmark if isinstance(benchmark, int) else benchmark.pk
        rows = DetectionPolicy.objects.filter(
            Q(benchmark_id=benchmark_id) | Q(benchmark=None, project__benchmarks=benchmark_id)).order_by("id")
        return cls(benchmark_id, list(rows))

    def chain(self, machine_id: int, layer: str | None) -> list[tuple[str, DetectionPolicy]]:
        """The policies that apply to a series, most specific first, with their level.
        `layer` None: a layer no layer policy names."""
        def rank(p: DetectionPolicy) -> int | None:
            if p.benchmark_id is None:
                return 5
            if p.machine_id not in (None, machine_id) or p.layer not in ("", layer):
                return None
            return {(True, True): 1, (False, True): 2, (True, False): 3, (False, False): 4}[
                (p.machine_id is not None, bool(p.layer))]

        ranked = sorted(((r, p) for p in self.policies if (r := rank(p)) is not None), key=lambda rp: rp[0])
        return [(SERIES if r < 4 else BENCHMARK if r == 4 else PROJECT, p) for r, p in ranked]

    def effective(self, machine_id: int, layer: str | None, metric: str = "median") -> EffectivePolicy:
        chain = self.chain(machine_id, layer)
        values, sources = {}, {}
        for name in FIELDS:
            for level, p in chain:
                value = getattr(p, name)
                if name == "bad_direction":
                    value = value.get(metric) if isinstance(value, dict) else None
                if value is not None:
                    values[name], sources[name] = value, level
                    break
            else:
                values[name], sources[name] = _default(name, layer, metric), DEFAULT
        # A window stored when the setting was larger reads no more than the setting allows.
        values["window"] = min(values["window"], settings.ROOFWATCH_DETECTION_WINDOW)
        return EffectivePolicy(**values, sources=tuple(sources.items()))

    def widest_window(self, machine_id: int) -> int:
        """The most runs any series of this benchmark on this machine reads."""
        layers = {None} | {p.layer for p in self.policies if p.layer}
        return max(self.effective(machine_id, layer).window for layer in layers)


def effective(machine_id: int, benchmark: Benchmark | int, layer: str, metric: str = "median") -> EffectivePolicy:
    """The policy of one series (for many series of a benchmark, load `Policies` once)."""
    return Policies.load(benchmark).effective(machine_id, layer, metric)


def _default(name: str, layer: str | None, metric: str):
    if name == "min_rel_change":
        return MIN_END_TO_END_CHANGE if layer == END_TO_END else MIN_LAYER_CHANGE
    if name == "bad_direction":
        return DEFAULT_BAD_DIRECTION.get(metric, UP)
    if name == "window":
        return settings.ROOFWATCH_DETECTION_WINDOW
    return False  # muted, alert_improvements

