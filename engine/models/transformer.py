"""An NMT-style Transformer encoder (the "base" layout of Vaswani et al. and
fairseq's default): post-LayerNorm layers with a Relu feed-forward network.

    embed:  Gather rows of a (vocab, d_model) table (stored pre-scaled by
            sqrt(d_model)), Add a constant sinusoidal positional encoding
    layer:  h = LayerNorm(x + SelfAttention(x)); y = LayerNorm(h + FFN(h)),
            FFN = Linear(d_model -> ffn), Relu, Linear(ffn -> d_model)
    output: (batch, seq_len, d_model)

`fused=1` builds each self-attention as one MultiHeadAttention node. `fused=0`
(the default) spells it out in primitive ops, the pattern the attention
fusion pass matches:

    MatMul(x, wq) -> Add(bq) -> Reshape(B, S, H, D) -> Transpose(0, 2, 1, 3)   (and k, v;
    k is transposed (0, 2, 3, 1) so the score product needs no extra transpose)
    MatMul(q, k) -> Mul(1/sqrt(D)) -> Softmax(-1) -> MatMul(v)
    -> Transpose(0, 2, 1, 3) -> Reshape(B, S, E) -> MatMul(wo) -> Add(bo)

Both forms use the same initializer names and values for a given seed, so
they compute the same function.
"""
from __future__ import annotations

import math

import numpy as np

from engine.ir import Graph, Node, TensorSpec
from engine.models.base import InputMaker, ModelParamError, ModelSpec, Param

ATTENTION_PROJECTIONS = ("q", "k", "v", "o")


def positional_encoding(seq_len: int, d_model: int) -> np.ndarray:
    """The sinusoidal table: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    positions = np.arange(seq_len, dtype=np.float64)[:, None]
    rates = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    pe = np.zeros((seq_len, d_model))
    pe[:, 0::2] = np.sin(positions * rates)
    pe[:, 1::2] = np.cos(positions * rates)
    return pe.astype(np.float32)


class _Builder:
    def __init__(self, batch: int, seq_len: int, d_model: int, heads: int, seed: int) -> None:
        self.batch, self.seq_len, self.d_model, self.heads = batch, seq_len, d_model, heads
        self.rng = np.random.default_rng(seed)
        self.initializers: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []

    def node(self, name: str, op: str, inputs: tuple[str, ...], attrs: dict | None = None,
             out: str | None = None) -> str:
        out = out or f"{name}.out"
        self.nodes.append(Node(name, op, inputs, (out,), attrs or {}))
        return out

    def dense(self, name: str, fan_in: int, fan_out: int) -> tuple[str, str]:
        """A (fan_in, fan_out) weight with Glorot-uniform values and a small bias."""
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        self.initializers[f"{name}.weight"] = self.rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
        self.initializers[f"{name}.bias"] = self.rng.uniform(-0.05, 0.05, fan_out).astype(np.float32)
        return f"{name}.weight", f"{name}.bias"

    def layer_norm(self, name: str, x: str, out: str | None = None) -> str:
        self.initializers[f"{name}.scale"] = self.rng.uniform(0.8, 1.2, self.d_model).astype(np.float32)
        self.initializers[f"{name}.bias"] = self.rng.uniform(-0.1, 0.1, self.d_model).astype(np.float32)
        return self.node(name, "LayerNormalization", (x, f"{name}.scale", f"{name}.bias"),
                         {"axis": -1, "epsilon": 1e-5}, out)

    def attention(self, name: str, x: str, fused: bool) -> str:
        params = {p: self.dense(f"{name}.{p}", self.d_model, self.d_model) for p in ATTENTION_PROJECTIONS}
        if fused:
            flat = tuple(t for p in ATTENTION_PROJECTIONS for t in params[p])
            return self.node(name, "MultiHeadAttention", (x, *flat), {"num_heads": self.heads})
        b, s, e, h = self.batch, self.seq_len, self.d_model, self.heads
        perms = {"q": [0, 2, 1, 3], "k": [0, 2, 3, 1], "v": [0, 2, 1, 3]}
        split = {}
        for p, perm in perms.items():
            w, bias = params[p]
            t = self.node(f"{name}.{p}.matmul", "MatMul", (x, w))
            t = self.node(f"{name}.{p}.bias", "Add", (t, bias))
            t = self.node(f"{name}.{p}.split", "Reshape", (t,), {"shape": [b, s, h, e // h]})
            split[p] = self.node(f"{name}.{p}.heads", "Transpose", (t,), {"perm": perm})
        scale = f"{name}.scale"
        self.initializers[scale] = np.array(1.0 / math.sqrt(e // h), dtype=np.float32)
        t = self.node(f"{name}.scores", "MatMul", (split["q"], split["k"]))
        t = self.node(f"{name}.scaled", "Mul", (t, scale))
        t = self.node(f"{name}.softmax", "Softmax", (t,), {"axis": -1})
        t = self.node(f"{name}.context", "MatMul", (t, split["v"]))
        t = self.node(f"{name}.merge", "Transpose", (t,), {"perm": [0, 2, 1, 3]})
        t = self.node(f"{name}.concat", "Reshape", (t,), {"shape": [b, s, e]})
        t = self.node(f"{name}.o.matmul", "MatMul", (t, params["o"][0]))
        return self.node(f"{name}.o.bias", "Add", (t, params["o"][1]))

    def encoder_layer(self, name: str, x: str, ffn: int, fused: bool, out: str | None = None) -> str:
        a = self.attention(f"{name}.attn", x, fused)
        h = self.layer_norm(f"{name}.ln1", self.node(f"{name}.res1", "Add", (x, a)))
        w1, b1 = self.dense(f"{name}.ffn1", self.d_model, ffn)
        w2, b2 = self.dense(f"{name}.ffn2", ffn, self.d_model)
        f = self.node(f"{name}.ffn1", "Linear", (h, w1, b1))
        f = self.node(f"{name}.ffn_relu", "Relu", (f,))
        f = self.node(f"{name}.ffn2", "Linear", (f, w2, b2))
        return self.layer_norm(f"{name}.ln2", self.node(f"{name}.res2", "Add", (h, f)), out)


def build_transformer(
    batch: int, seq_len: int, layers: int, d_model: int, heads: int, ffn: int, vocab: int, fused: int, seed: int
) -> tuple[Graph, InputMaker]:
    if fused not in (0, 1):
        raise ModelParamError(f"param fused: expected 0 (primitive ops) or 1 (MultiHeadAttention), got {fused}")
    if d_model % heads:
        raise ModelParamError(f"param heads: {heads} does not divide d_model {d_model}")
    if d_model % 2:
        raise ModelParamError(f"param d_model: the sinusoidal encoding needs an even size, got {d_model}")
    b = _Builder(batch, seq_len, d_model, heads, seed)
    # N(0, 1) rows are N(0, 1/d_model) embeddings already multiplied by sqrt(d_model).
    b.initializers["embed.table"] = b.rng.standard_normal((vocab, d_model), dtype=np.float32)
    b.initializers["embed.positions"] = positional_encoding(seq_len, d_model)
    x = b.node("embed.lookup", "Gather", ("embed.table", "tokens"), {"axis": 0})
    x = b.node("embed.position", "Add", (x, "embed.positions"))
    for i in range(1, layers + 1):
        x = b.encoder_layer(f"l{i}", x, ffn, bool(fused), out="y" if i == layers else None)
    graph = Graph(
        name="transformer",
        inputs=(TensorSpec("tokens", "int64", (batch, seq_len)),),
        initializers=b.initializers,
        nodes=tuple(b.nodes),
        outputs=("y",),
    )

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        data_rng = np.random.default_rng([seed, 0x1D])  # independent of the weight stream
        return {"tokens": data_rng.integers(0, vocab, size=(batch, seq_len), dtype=np.int64)}

    return graph, make_inputs


def _params(batch: int, seq_len: int, layers: int, d_model: int, heads: int, ffn: int,
            vocab: int) -> tuple[Param, ...]:
    return (
        Param("batch", batch, "sentences per forward pass"),
        Param("seq_len", seq_len, "tokens per sentence"),
        Param("layers", layers, "encoder layers"),
        Param("d_model", d_model, "model width"),
        Param("heads", heads, "attention heads (must divide d_model)"),
        Param("ffn", ffn, "feed-forward inner width"),
        Param("vocab", vocab, "rows of the token embedding table"),
        Param("fused", 0, "1: one MultiHeadAttention op per layer; 0: primitive ops", minimum=0),
        Param("seed", 0, "seed of the weights", minimum=0),
    )


SPEC = ModelSpec(
    name="transformer",
    summary="NMT-style post-LayerNorm Transformer encoder: embedding, self-attention, Relu FFN",
    params=_params(batch=16, seq_len=64, layers=2, d_model=512, heads=8, ffn=2048, vocab=32000),
    build=build_transformer,
)

SMALL_SPEC = ModelSpec(
    name="transformer_small",
    summary="the transformer at a tiny size, for smoke tests",
    params=_params(batch=2, seq_len=16, layers=2, d_model=64, heads=4, ffn=128, vocab=1000),
    build=build_transformer,
)
