"""Every zoo model (test sizes) computes the same outputs with all passes as
without, and every layer's lineage names original nodes, each at most once."""
import numpy as np
import pytest

from engine.executor import run_graph
from engine.models import MODELS, build_model
from engine.passes import run_passes

SMALL = [name for name in MODELS if name.endswith("_small")]
CASES = [(name, {}) for name in SMALL] + [
    ("mlp", {"batch": 4, "sizes": [64, 128, 32, 8]}),
    ("transformer_small", {"fused": 1}),
]
# Conv+BN folding rescales the weights, so resnet matches to float32 rounding, not bit for bit.
TOLERANCE = {"resnet_small": dict(rtol=1e-4, atol=1e-5)}


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}{'-' + str(p) if p else ''}" for n, p in CASES])
def test_all_passes_keep_the_outputs_and_the_lineage_is_sound(name, params):
    model = build_model(name, **params)
    result = run_passes(model.graph, "all")
    inputs = model.make_inputs(0)
    before, after = run_graph(model.graph, inputs), run_graph(result.graph, inputs)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], **TOLERANCE.get(name, dict(rtol=1e-6, atol=1e-7)))
    original = {n.name for n in model.graph.nodes}
    covered = [src for node in result.graph.nodes for src in result.lineage[node.name]]
    assert set(covered) <= original and len(covered) == len(set(covered))
    assert set(result.lineage) == {n.name for n in result.graph.nodes}


@pytest.mark.parametrize("name", ["mlp", "dlrm_small", "wdl_small", "transformer_small", "resnet_small"])
def test_fusion_actually_applies_on_the_models_that_have_the_patterns(name):
    model = build_model(name, batch=4) if name == "mlp" else build_model(name)
    result = run_passes(model.graph, "all")
    assert len(result.graph.nodes) < len(model.graph.nodes)
    assert any(len(sources) > 1 for sources in result.lineage.values())
