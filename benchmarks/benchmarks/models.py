"""Every registered model's forward pass at batch 1, 64 and 256, and the
profiler's overhead on it at batch 256. A combination that would take more
than 2 s per call (or a model without a batch param) is skipped (n/a)."""
from __future__ import annotations

from engine.executor import execute
from engine.models import MODELS
from engine.profile import profile
from engine.roofline import Peaks

from ._support import BATCHES, built, skip_if_slow, warm_seconds

PROFILE_WARMUP, PROFILE_REPEATS = 2, 10
PROFILE_PASSES = 2 * (PROFILE_WARMUP + PROFILE_REPEATS)  # a timed and a plain pass each


class Forward:
    params = (list(MODELS), list(BATCHES))
    param_names = ("model", "batch")
    timeout = 300

    def setup(self, model: str, batch: int) -> None:
        _, self.plan, self.inputs = built(model, batch)
        what = f"{model} at batch {batch}"
        skip_if_slow(warm_seconds(lambda: execute(self.plan, self.inputs), what), what)

    def time_forward(self, model: str, batch: int) -> None:
        execute(self.plan, self.inputs)


class ProfilerOverhead:
    """median(per-layer timed passes) / median(plain passes) - 1, in percent."""

    params = (list(MODELS), [256])
    param_names = ("model", "batch")
    unit = "percent"
    timeout = 300

    def setup(self, model: str, batch: int) -> None:
        self.model, plan, self.inputs = built(model, batch)
        what = f"profiling {model} at batch {batch}"
        skip_if_slow(warm_seconds(lambda: execute(plan, self.inputs), what) * PROFILE_PASSES, what)

    def track_profiler_overhead(self, model: str, batch: int) -> float:
        result = profile(self.model.graph, self.inputs, warmup=PROFILE_WARMUP, repeats=PROFILE_REPEATS,
                         peaks=Peaks(1.0, 1.0))  # the roofline plays no part in the overhead
        return 100.0 * result.profiler_overhead
