import re

import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import model_version
from engine.models import MODELS, ModelParamError, build_model


def ref_conv(x, w, stride):
    """Same-padded conv via sliding windows and einsum, in float64."""
    k = w.shape[-1]
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", win, w)


def ref_bn(x, weights, name):
    g = {r: weights[f"{name}.{r}"].astype(np.float64) for r in ("scale", "bias", "mean", "var")}
    per_channel = (1, -1, 1, 1)
    return ((x - g["mean"].reshape(per_channel)) / np.sqrt(g["var"].reshape(per_channel) + 1e-5)
            * g["scale"].reshape(per_channel) + g["bias"].reshape(per_channel))


def ref_conv_bn(x, weights, prefix, suffix, stride):
    conv = ref_conv(x, weights[f"{prefix}.conv{suffix}.weight"].astype(np.float64), stride)
    return ref_bn(conv, weights, f"{prefix}.bn{suffix}")


def ref_resnet(x, weights, blocks):
    """The documented architecture written out in numpy from the graph's weights."""
    relu = lambda t: np.maximum(t, 0)  # noqa: E731
    h = relu(ref_conv_bn(x.astype(np.float64), weights, "stem", "", 1))
    hp = np.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h = np.lib.stride_tricks.sliding_window_view(hp, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(-2, -1))
    for s, count in enumerate(blocks, start=1):
        for j in range(1, count + 1):
            name, stride = f"s{s}.b{j}", 2 if s > 1 and j == 1 else 1
            branch = relu(ref_conv_bn(h, weights, name, "1", stride))
            branch = ref_conv_bn(branch, weights, name, "2", 1)
            projected = f"{name}.conv_proj.weight" in weights
            shortcut = ref_conv_bn(h, weights, name, "_proj", stride) if projected else h
            h = relu(branch + shortcut)
    features = h.mean(axis=(2, 3))
    return features @ weights["head.fc.weight"] + weights["head.fc.bias"]


def test_resnet_and_resnet_small_are_registered_with_their_defaults():
    assert build_model("resnet").params == {"batch": 32, "image": 64, "width": 32, "blocks": [2, 2],
                                            "classes": 100, "seed": 0}
    assert set(MODELS) >= {"resnet", "resnet_small"}
    graph = build_model("resnet").graph
    assert graph.inputs[0].shape == (32, 3, 64, 64)
    assert {n.op for n in graph.nodes} == {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add",
                                           "GlobalAveragePool", "Reshape", "Linear"}


def test_only_a_stage_entry_block_has_a_projection_shortcut():
    graph = build_model("resnet_small", blocks=[2, 2, 1]).graph
    projections = [n.name for n in graph.nodes if n.name.endswith("_proj")]
    assert projections == ["s2.b1.conv_proj", "s2.b1.bn_proj", "s3.b1.conv_proj", "s3.b1.bn_proj"]
    proj = graph.node("s2.b1.conv_proj")
    assert proj.attrs["strides"] == [2, 2] and graph.initializers["s2.b1.conv_proj.weight"].shape == (16, 8, 1, 1)
    assert [n.name for n in graph.nodes if n.op == "Add"] == ["s1.b1.add", "s1.b2.add", "s2.b1.add",
                                                                "s2.b2.add", "s3.b1.add"]


@pytest.mark.parametrize("blocks", [[1, 2], [2, 1, 1]])
def test_the_forward_pass_matches_a_numpy_reimplementation(blocks):
    model = build_model("resnet_small", batch=2, image=16, width=4, blocks=blocks, classes=7, seed=3)
    inputs = model.make_inputs(1)
    logits = run_graph(model.graph, inputs)["logits"]
    expected = ref_resnet(inputs["x"], model.graph.initializers, blocks)
    assert logits.shape == (2, 7) and logits.dtype == np.float32
    assert np.isfinite(logits).all()
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_the_default_size_runs_to_finite_logits_of_the_right_shape():
    model = build_model("resnet_small")
    logits = run_graph(model.graph, model.make_inputs(0))["logits"]
    assert logits.shape == (4, 10) and np.isfinite(logits).all() and logits.std() > 0


def test_model_version_is_stable_ignores_weight_values_and_follows_the_architecture():
    a = model_version(build_model("resnet_small").graph)
    assert re.fullmatch(r"[0-9a-f]{20}", a)
    assert model_version(build_model("resnet_small").graph) == a
    assert model_version(build_model("resnet_small", seed=9).graph) == a
    assert model_version(build_model("resnet_small", width=16).graph) != a
    assert model_version(build_model("resnet_small", blocks=[1, 2]).graph) != a


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"blocks": []}, r"param blocks: need at least one stage, got \[\]"),
        ({"blocks": [1, 0]}, r"param blocks\[1\]: must be >= 1, got 0"),
        ({"image": 4}, "param image: must be >= 8, got 4"),
    ],
)
def test_bad_params_are_named(params, message):
    with pytest.raises(ModelParamError, match=message):
        build_model("resnet_small", **params)


def test_a_profiled_run_counts_every_conv_by_the_documented_formula(peaks):
    from engine.profile import profile

    model = build_model("resnet_small", batch=2, image=16, width=4, blocks=[1, 1], classes=5)
    result = profile(model.graph, model.make_inputs(0), warmup=0, repeats=1, peaks=peaks)
    layers = {ly.name: ly for ly in result.layers}
    assert len(layers) == len(model.graph.nodes)
    # s2.b1.conv1: 4 -> 8 channels, 3x3, stride 2 from 8x8 to 4x4, batch 2, no bias
    assert layers["s2.b1.conv1"].flops == 2 * (2 * 8 * 4 * 4) * 4 * 9
    assert layers["head.flatten"].flops == 0 and layers["head.flatten"].bytes == 0
    assert all(ly.flops > 0 for ly in result.layers if ly.op != "Reshape")
