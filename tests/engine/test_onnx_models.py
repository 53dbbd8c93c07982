"""Cross-check of every registered model against onnxruntime: export it, run
the export on onnxruntime's CPU provider with the same inputs, and compare
with the engine. The parametrization reads the registry, so a new model is
checked as soon as it is registered; a model with a `<name>_small` variant is
checked through that variant, any other at a small batch."""
from __future__ import annotations

import numpy as np
import pytest

from engine.executor import run_graph
from engine.models import MODELS, build_model
from engine.onnx_io import UnsupportedImport, export_onnx, import_onnx
from engine.onnx_io.import_graph import IMPORTERS
from engine.onnx_io.ort_runner import run_ort

SMALL_BATCH = 4


def models_to_check() -> list[str]:
    return sorted(name for name in MODELS if f"{name}_small" not in MODELS)


def small_params(name: str) -> dict:
    spec = MODELS[name]
    has_batch = any(p.name == "batch" for p in spec.params)
    return {"batch": SMALL_BATCH} if has_batch and not name.endswith("_small") else {}


def test_the_registry_is_covered():
    checked = set(models_to_check())
    assert "mlp" in checked
    assert all(name in checked or f"{name}_small" in checked for name in MODELS)


@pytest.mark.parametrize("name", models_to_check())
def test_model_matches_onnxruntime(name):
    model = build_model(name, **small_params(name))
    inputs = model.make_inputs(0)
    ours = run_graph(model.graph, inputs)
    theirs = run_ort(export_onnx(model.graph), inputs, threads=1)
    assert set(theirs) == set(model.graph.outputs)
    for out in model.graph.outputs:
        assert theirs[out].shape == ours[out].shape, out
        np.testing.assert_allclose(theirs[out], ours[out], rtol=1e-4, atol=1e-5,
                                   err_msg=f"model {name}, output {out!r}")


@pytest.mark.parametrize("name", models_to_check())
def test_model_export_imports_back_when_it_uses_importable_ops(name):
    """Models whose export holds only importable ONNX ops (mlp, resnet,
    transformer, din, ...) round-trip to the same outputs; the others (the
    EmbeddingBag and AUGRU decompositions use ScatterND, Cast, Where, ...)
    are refused with the node and op type named."""
    model = build_model(name, **small_params(name))
    exported = export_onnx(model.graph)
    foreign = sorted({n.op_type for n in exported.graph.node} - set(IMPORTERS))
    if foreign:
        with pytest.raises(UnsupportedImport, match=rf"node '[^']+' \(({'|'.join(foreign)})\): op type"):
            import_onnx(exported)
        return
    inputs = model.make_inputs(0)
    ours, again = run_graph(model.graph, inputs), run_graph(import_onnx(exported), inputs)
    for out in model.graph.outputs:
        np.testing.assert_allclose(again[out], ours[out], rtol=1e-5, atol=1e-6, err_msg=f"{name}: {out}")
