"""Every small zoo model under every --quant mode (and int8 after all passes)
stays within the documented tolerance of fp32 (engine.quant.modes), and a mode
either quantizes something or says it is a no-op on that model."""
import numpy as np
import pytest

from engine.executor import run_graph
from engine.models import MODELS, build_model
from engine.passes import run_passes
from engine.quant.accuracy import calibration_inputs
from engine.quant.modes import CALIBRATION_METHODS, DENSE, MODES, STATIC, apply_quant, resolve_quant, tolerance

SEEDS = (1001, 1002)
ZOO = ["mlp", *sorted(name for name in MODELS if name.endswith("_small"))]
SMALL_PARAMS = {"mlp": {"batch": 8, "sizes": [16, 32, 32, 4]}}
REQUESTS = [(mode, None, []) for mode in MODES if mode != STATIC]
REQUESTS += [(STATIC, method, []) for method in CALIBRATION_METHODS]
REQUESTS += [("int8", None, "all"), ("fp16,int8-rowwise-emb", None, "all"),
             ("int8-static,int4-rowwise-emb", "minmax", "all")]
EMBEDDING_MODELS = {"dlrm_small", "wdl_small"}  # EmbeddingBag tables; din/dien read theirs with Gather


@pytest.fixture(scope="module")
def models():
    return {name: build_model(name, **SMALL_PARAMS.get(name, {})) for name in ZOO}


@pytest.mark.parametrize("name", ZOO)
@pytest.mark.parametrize("mode, calibration, passes", REQUESTS,
                         ids=[f"{m}{'-' + c if c else ''}{'-passes' if p else ''}" for m, c, p in REQUESTS])
def test_a_quantized_zoo_model_stays_within_tolerance_of_fp32(models, name, mode, calibration, passes):
    model = models[name]
    request = resolve_quant(mode, calibration)
    graph = run_passes(model.graph, passes).graph
    result = apply_quant(graph, request, calibration_inputs=calibration_inputs(model.make_inputs))
    for family_mode in request.modes:
        embedding = MODES[family_mode].family != DENSE
        expect_noop = embedding and name not in EMBEDDING_MODELS
        assert (family_mode in result.noop) == expect_noop, (family_mode, result.noop)
    if not result.quantized_layers:
        assert result.graph is graph
        return
    assert result.graph is not graph
    changed = {n.name for n in result.graph.nodes} & set(result.quantized_layers)
    assert changed == set(result.quantized_layers)
    assert all(result.graph.node(n) != graph.node(n) for n in changed)
    bound = tolerance(request)
    for seed in SEEDS:
        x = model.make_inputs(seed)
        ref = run_graph(model.graph, x)
        got = run_graph(result.graph, x)
        for out in model.graph.outputs:
            scale = float(np.abs(ref[out]).max())
            err = float(np.abs(got[out].astype(np.float64) - ref[out]).max())
            assert err <= bound * scale, f"{name} {request.text}: max abs error {err:.3g} > {bound} x {scale:.3g}"
