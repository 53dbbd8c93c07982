import math
import re

import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import model_version
from engine.models import MODELS, ModelParamError, build_model
from engine.models.transformer import positional_encoding

PRIMITIVES = {"MatMul", "Add", "Reshape", "Transpose", "Softmax", "Mul"}


def ref_layer_norm(x, scale, bias):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * scale + bias


def ref_encoder(tokens, w, layers, heads):
    """The documented architecture with einsum, per head, in float64."""
    seq_len = tokens.shape[1]
    x = w["embed.table"][tokens].astype(np.float64) + w["embed.positions"]
    e = x.shape[-1]
    d = e // heads
    for i in range(1, layers + 1):
        p = f"l{i}.attn"
        q, k, v = (np.einsum("bse,ef->bsf", x, w[f"{p}.{n}.weight"]) + w[f"{p}.{n}.bias"] for n in "qkv")
        context = np.empty_like(x)
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            scores = np.einsum("bqd,bkd->bqk", q[..., cols], k[..., cols]) / math.sqrt(d)
            probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs /= probs.sum(axis=-1, keepdims=True)
            context[..., cols] = np.einsum("bqk,bkd->bqd", probs, v[..., cols])
        attn = np.einsum("bse,ef->bsf", context, w[f"{p}.o.weight"]) + w[f"{p}.o.bias"]
        h1 = ref_layer_norm(x + attn, w[f"l{i}.ln1.scale"], w[f"l{i}.ln1.bias"])
        f = np.maximum(h1 @ w[f"l{i}.ffn1.weight"] + w[f"l{i}.ffn1.bias"], 0)
        f = f @ w[f"l{i}.ffn2.weight"] + w[f"l{i}.ffn2.bias"]
        x = ref_layer_norm(h1 + f, w[f"l{i}.ln2.scale"], w[f"l{i}.ln2.bias"])
    assert x.shape[1] == seq_len
    return x


SMALL = {"batch": 2, "seq_len": 6, "layers": 2, "d_model": 16, "heads": 4, "ffn": 24, "vocab": 50, "seed": 5}


def test_transformer_and_transformer_small_are_registered_with_their_defaults():
    assert set(MODELS) >= {"transformer", "transformer_small"}
    spec = MODELS["transformer"]
    defaults = {p.name: p.default for p in spec.params}
    assert defaults == {"batch": 16, "seq_len": 64, "layers": 2, "d_model": 512, "heads": 8, "ffn": 2048,
                        "vocab": 32000, "fused": 0, "seed": 0}


def test_the_default_graph_spells_attention_in_primitive_ops():
    graph = build_model("transformer_small").graph
    attention_ops = {n.op for n in graph.nodes if ".attn." in n.name}
    assert attention_ops == PRIMITIVES
    assert "MultiHeadAttention" not in {n.op for n in graph.nodes}
    assert [n.op for n in graph.nodes if n.name.startswith("l1.attn.")][-8:] == [
        "MatMul", "Mul", "Softmax", "MatMul", "Transpose", "Reshape", "MatMul", "Add"]


def test_the_fused_graph_has_one_attention_node_per_layer_and_the_same_weights():
    unfused = build_model("transformer_small", layers=3).graph
    fused = build_model("transformer_small", layers=3, fused=1).graph
    assert [n.name for n in fused.nodes if n.op == "MultiHeadAttention"] == ["l1.attn", "l2.attn", "l3.attn"]
    only_unfused = set(unfused.initializers) - set(fused.initializers)
    assert only_unfused == {"l1.attn.scale", "l2.attn.scale", "l3.attn.scale"}
    for name, value in fused.initializers.items():
        np.testing.assert_array_equal(value, unfused.initializers[name])


def test_fused_and_unfused_graphs_agree_and_match_an_einsum_reference():
    unfused = build_model("transformer_small", **SMALL)
    fused = build_model("transformer_small", **SMALL, fused=1)
    inputs = unfused.make_inputs(2)
    y_unfused = run_graph(unfused.graph, inputs)["y"]
    y_fused = run_graph(fused.graph, inputs)["y"]
    expected = ref_encoder(inputs["tokens"], unfused.graph.initializers, SMALL["layers"], SMALL["heads"])
    assert y_unfused.shape == y_fused.shape == (2, 6, 16) and y_unfused.dtype == np.float32
    assert np.isfinite(y_unfused).all()
    np.testing.assert_allclose(y_fused, y_unfused, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(y_unfused, expected, rtol=1e-4, atol=1e-4)


def test_the_default_small_size_runs_and_every_output_row_is_layer_normalised():
    model = build_model("transformer_small")
    y = run_graph(model.graph, model.make_inputs(0))["y"]
    assert y.shape == (2, 16, 64) and np.isfinite(y).all()
    scale, bias = model.graph.initializers["l2.ln2.scale"], model.graph.initializers["l2.ln2.bias"]
    normalised = (y - bias) / scale
    np.testing.assert_allclose(normalised.mean(axis=-1), 0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(axis=-1), 1, rtol=1e-3)


def test_tokens_are_seeded_int64_ids_within_the_vocabulary():
    model = build_model("transformer_small", vocab=7)
    tokens = model.make_inputs(3)["tokens"]
    assert tokens.dtype == np.int64 and tokens.shape == (2, 16)
    assert tokens.min() >= 0 and tokens.max() < 7
    np.testing.assert_array_equal(tokens, model.make_inputs(3)["tokens"])


def test_the_positional_encoding_is_the_sinusoidal_table():
    pe = positional_encoding(10, 8)
    assert pe.shape == (10, 8) and pe.dtype == np.float32
    np.testing.assert_allclose(pe[0], [0, 1] * 4, atol=1e-7)
    np.testing.assert_allclose(pe[:, 0], np.sin(np.arange(10)), rtol=1e-6)
    np.testing.assert_allclose(pe[3, 5], np.cos(3 / 10000 ** (4 / 8)), rtol=1e-6)


def test_model_version_is_stable_and_tells_the_fused_form_apart():
    a = model_version(build_model("transformer_small").graph)
    assert re.fullmatch(r"[0-9a-f]{20}", a)
    assert model_version(build_model("transformer_small").graph) == a
    assert model_version(build_model("transformer_small", seed=1).graph) == a
    assert model_version(build_model("transformer_small", fused=1).graph) != a
    assert model_version(build_model("transformer_small", layers=3).graph) != a


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fused": 2}, r"param fused: expected 0 \(primitive ops\) or 1 \(MultiHeadAttention\), got 2"),
        ({"heads": 5}, "param heads: 5 does not divide d_model 64"),
        ({"d_model": 63, "heads": 1}, "param d_model: the sinusoidal encoding needs an even size, got 63"),
    ],
)
def test_bad_params_are_named(params, message):
    with pytest.raises(ModelParamError, match=message):
        build_model("transformer_small", **params)


def test_the_fused_attention_layer_counts_what_its_primitive_ops_count_plus_scaling_q(peaks):
    from engine.profile import profile

    params = {**SMALL, "layers": 1}
    unfused = build_model("transformer_small", **params)
    fused = build_model("transformer_small", **params, fused=1)
    inputs = unfused.make_inputs(0)
    by_unfused = profile(unfused.graph, inputs, warmup=0, repeats=1, peaks=peaks).layers
    by_fused = profile(fused.graph, inputs, warmup=0, repeats=1, peaks=peaks).layers
    primitive = sum(ly.flops for ly in by_unfused if ly.name.startswith("l1.attn."))
    (mha,) = [ly for ly in by_fused if ly.op == "MultiHeadAttention"]
    b, s, e, h = params["batch"], params["seq_len"], params["d_model"], params["heads"]
    # the unfused graph scales the (B, H, S, S) scores, the fused kernel scales Q (B, S, E)
    assert mha.flops == primitive - b * h * s * s + b * s * e
