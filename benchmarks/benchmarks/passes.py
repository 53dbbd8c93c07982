"""Graph passes: a forward pass of mlp, dlrm and the transformer with passes
none and all (the ratio of the two is what `--passes all` buys), and the
time to apply all passes to each model. Modest sizes: mlp and dlrm at batch
64, the transformer at batch 1 (64 tokens). A combination over the 2 s
budget is skipped (n/a)."""
from __future__ import annotations

from engine.executor import execute, make_plan
from engine.passes import run_passes

from ._support import built, skip_if_slow, warm_seconds

BATCH = {"mlp": 64, "dlrm": 64, "transformer": 1}


class ForwardWithPasses:
    params = (list(BATCH), ["none", "all"])
    param_names = ("model", "passes")
    timeout = 300

    def setup(self, model: str, passes: str) -> None:
        built_model, plan, self.inputs = built(model, BATCH[model])
        self.plan = plan if passes == "none" else make_plan(run_passes(built_model.graph, passes).graph)
        what = f"{model} at batch {BATCH[model]} with passes {passes}"
        skip_if_slow(warm_seconds(lambda: execute(self.plan, self.inputs), what), what)

    def time_forward(self, model: str, passes: str) -> None:
        execute(self.plan, self.inputs)


class ApplyPasses:
    params = (list(BATCH),)
    param_names = ("model",)
    timeout = 120

    def setup(self, model: str) -> None:
        self.graph = built(model, BATCH[model])[0].graph

    def time_run_passes(self, model: str) -> None:
        run_passes(self.graph, "all")
