"""The asv suite under benchmarks/ stays runnable: its modules import, their
params follow the registries, and setup + one benchmark call work."""
import json
import re
from pathlib import Path

import pytest

from benchmarks.benchmarks import _support, kernels, models, passes
from engine.models import MODELS
from engine.ops import OPS

REPO = Path(__file__).resolve().parents[2]


def test_params_cover_every_registered_op_and_model():
    assert kernels.Kernel.params == (sorted(OPS), [1, 64, 256])
    assert models.Forward.params == (list(MODELS), [1, 64, 256])
    assert models.ProfilerOverhead.params == (list(MODELS), [256])


def test_a_model_forward_runs_after_setup():
    bench = models.Forward()
    bench.setup("mlp", 1)
    bench.time_forward("mlp", 1)


def test_the_passes_benchmarks_run_after_setup():
    bench = passes.ForwardWithPasses()
    for request in ("none", "all"):
        bench.setup("mlp", request)
        bench.time_forward("mlp", request)
    apply = passes.ApplyPasses()
    apply.setup("mlp")
    apply.time_run_passes("mlp")


def test_a_kernel_runs_on_the_inputs_it_sees_in_a_model(monkeypatch):
    monkeypatch.setattr(kernels, "host_models", lambda: ["mlp"])
    bench = kernels.Kernel()
    bench.setup("Relu", 64)
    assert [a.shape for a in bench.args] == [(64, 1024)]  # relu1 reads fc1's output
    bench.time_kernel("Relu", 64)


def test_an_elementwise_op_no_model_runs_gets_synthetic_inputs(monkeypatch):
    monkeypatch.setattr(kernels, "host_models", lambda: [])
    bench = kernels.Kernel()
    bench.setup("Relu", 64)
    assert [a.shape for a in bench.args] == [(64, _support.FEATURES)]
    bench.time_kernel("Relu", 64)
    with pytest.raises(NotImplementedError, match="no model runs a Linear node and it takes no default inputs"):
        bench.setup("Linear", 64)


def test_an_op_no_model_runs_is_skipped_the_asv_way():
    with pytest.raises(NotImplementedError, match="no model in the registry runs a NoSuchOp node"):
        _support.first_node_of("NoSuchOp", 1, ["mlp"])


def test_a_combination_over_the_budget_is_skipped(monkeypatch):
    monkeypatch.setattr(_support, "MAX_SECONDS", 0.0)
    with pytest.raises(NotImplementedError, match="mlp at batch 1 .* over the 0 s budget"):
        models.Forward().setup("mlp", 1)


def test_the_overhead_tracker_returns_a_percentage():
    bench = models.ProfilerOverhead()
    bench.setup("mlp", 1)  # the suite runs it at batch 256; batch 1 keeps the test quick
    assert isinstance(bench.track_profiler_overhead("mlp", 1), float)


def test_asv_config_keeps_results_in_the_ignored_asv_dir():
    text = (REPO / "benchmarks" / "asv.conf.json").read_text()
    conf = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))
    assert (conf["repo"], conf["environment_type"], conf["benchmark_dir"]) == ("..", "existing", "benchmarks")
    assert all(conf[k].startswith(".asv/") for k in ("results_dir", "html_dir", "env_dir"))
    assert ".asv/" in (REPO / ".gitignore").read_text().splitlines()
