"""One kernel of every registered op type at three batch sizes, on the
inputs it sees inside a registered model (the first one that uses the op, a
`_small` variant standing in for its full model). An elementwise op no
model uses runs on synthetic (batch, 1024) inputs; any other op no model
uses is skipped (n/a), and so is a kernel call over 2 s."""
from __future__ import annotations

from engine.ops import OPS

from ._support import (BATCHES, Skip, built, elementwise_inputs, first_node_of, host_models, node_inputs,
                       skip_if_slow, warm_seconds)


class Kernel:
    params = (sorted(OPS), list(BATCHES))
    param_names = ("op", "batch")
    timeout = 120

    def setup(self, op_type: str, batch: int) -> None:
        try:
            model, plan, node = first_node_of(op_type, batch, host_models())
        except Skip:
            op = OPS[op_type]
            self.run, self.attrs = op.run, op.resolve_attrs({})
            self.args = elementwise_inputs(op, batch)
            what = f"{op_type} (synthetic inputs, batch {batch})"
        else:
            _, _, inputs = built(model, batch)
            step = next(s for s in plan.steps if s.node.name == node)
            self.run, self.attrs = step.op.run, step.attrs
            self.args = node_inputs(plan, inputs, node)
            what = f"{op_type} ({model} node {node!r}, batch {batch})"
        skip_if_slow(warm_seconds(lambda: self.run(self.args, self.attrs), what), what)

    def time_kernel(self, op_type: str, batch: int) -> None:
        self.run(self.args, self.attrs)
