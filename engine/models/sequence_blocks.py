"""Building blocks shared by the behaviour-sequence models (DIN, DIEN): a
small graph builder, DIN's attention unit, the user-profile lookup, the top
MLP and the synthetic inputs (Zipf item ids, variable sequence lengths).

Every block is composed of registered ops, so each piece is its own profiled
layer and maps one to one onto an ONNX operator.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.ir import Graph, Node, TensorSpec
from engine.models.base import Param

# User profile fields (vocabulary sizes) looked up in one table with per-field
# row offsets, as a serving system ships them: gender, age bucket, city.
PROFILE_FIELDS = (3, 10, 400)
PROFILE_DIM = 16
ATTENTION_HIDDEN = (80, 40)  # DIN's local activation unit, 4d -> 80 -> 40 -> 1
TOP_MLP = (200, 80)  # then -> 1 -> Sigmoid
MASK_PENALTY = 1e9  # added (negated) to padded logits before a softmax
ZIPF_EXPONENT = 1.05  # item popularity: a few hot items, a long tail
ITEM_PERMUTATION_SEED = 0x5EC  # fixed scatter of popularity ranks over the item ids


class GraphBuilder:
    """Collects inputs, seeded float32 weights and nodes; every node writes
    one tensor named like the node unless output names are given."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.inputs: list[TensorSpec] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []

    def input(self, name: str, dtype: str, shape: tuple[int, ...]) -> str:
        self.inputs.append(TensorSpec(name, dtype, shape))
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers[name] = value
        return name

    def weight(self, name: str, shape: tuple[int, ...], scale: float) -> str:
        return self.const(name, self.rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))

    def op(self, name: str, op: str, inputs: Sequence[str], outputs: Sequence[str] | None = None,
           **attrs: Any) -> str:
        outs = tuple(outputs) if outputs is not None else (name,)
        self.nodes.append(Node(name, op, tuple(inputs), outs, attrs))
        return outs[0]

    def linear(self, name: str, x: str, k: int, n: int, activation: str | None = None) -> str:
        """Linear (Glorot-scaled weights, small biases), then `activation`."""
        w = self.weight(f"{name}.weight", (k, n), np.sqrt(2.0 / (k + n)))
        b = self.const(f"{name}.bias", self.rng.uniform(-0.05, 0.05, size=n).astype(np.float32))
        y = self.op(name, "Linear", (x, w, b))
        return self.op(f"{name}.act", activation, (y,)) if activation else y

    def graph(self, outputs: Sequence[str]) -> Graph:
        return Graph(self.name, tuple(self.inputs), self.initializers, tuple(self.nodes), tuple(outputs))


def attention_scores(g: GraphBuilder, prefix: str, query: str, keys: str, batch: int, steps: int,
                     dim: int) -> str:
    """DIN's local activation unit: for each step t an MLP over
    [q, k_t, q - k_t, q * k_t] (4d -> 80 -> 40 -> 1, Sigmoid hidden
    activations as in the authors' code) scores key t against the query.
    query (B, d), keys (B, T, d) -> raw scores (B, T), unmasked."""
    q3 = g.op(f"{prefix}.query", "Reshape", (query,), shape=[batch, 1, dim])
    tile = g.const(f"{prefix}.tile_index", np.zeros(steps, dtype=np.int64))
    q_rep = g.op(f"{prefix}.query_tiled", "Gather", (q3, tile), axis=1)  # (B, T, d)
    diff = g.op(f"{prefix}.diff", "Sub", (q_rep, keys))
    prod = g.op(f"{prefix}.prod", "Mul", (q_rep, keys))
    feat = g.op(f"{prefix}.features", "Concat", (q_rep, keys, diff, prod), axis=2)
    h, width = feat, 4 * dim
    for i, n in enumerate(ATTENTION_HIDDEN, start=1):
        h = g.linear(f"{prefix}.fc{i}", h, width, n, "Sigmoid")
        width = n
    s = g.linear(f"{prefix}.fc{len(ATTENTION_HIDDEN) + 1}", h, width, 1)
    return g.op(f"{prefix}.scores", "Reshape", (s,), shape=[batch, steps])


def masked_softmax(g: GraphBuilder, prefix: str, scores: str, mask: str) -> str:
    """Softmax over the steps with padded steps (mask 0) given weight 0:
    logits + (mask - 1) * MASK_PENALTY, which leaves valid logits exact."""
    one = g.const(f"{prefix}.one", np.array(1.0, dtype=np.float32))
    penalty = g.const(f"{prefix}.penalty", np.array(MASK_PENALTY, dtype=np.float32))
    off = g.op(f"{prefix}.mask_off", "Sub", (mask, one))
    bias = g.op(f"{prefix}.mask_bias", "Mul", (off, penalty))
    logits = g.op(f"{prefix}.logits", "Add", (scores, bias))
    return g.op(f"{prefix}.softmax", "Softmax", (logits,), axis=1)


def user_profile_features(g: GraphBuilder, ids: str, batch: int) -> tuple[str, int]:
    """One Gather from the profile table (fields at row offsets), flattened to
    (B, fields * PROFILE_DIM). Returns the tensor and its width."""
    table = g.weight("user.table", (sum(PROFILE_FIELDS), PROFILE_DIM), 0.1)
    emb = g.op("user.lookup", "Gather", (table, ids), axis=0)
    width = len(PROFILE_FIELDS) * PROFILE_DIM
    return g.op("user.features", "Reshape", (emb,), shape=[batch, width]), width


def top_mlp(g: GraphBuilder, x: str, width: int) -> str:
    """200 -> 80 (Relu) -> 1 -> Sigmoid: the click probability (B, 1)."""
    h = x
    for i, n in enumerate(TOP_MLP, start=1):
        h = g.linear(f"top.fc{i}", h, width, n, "Relu")
        width = n
    logit = g.linear(f"top.fc{len(TOP_MLP) + 1}", h, width, 1)
    return g.op("top.prob", "Sigmoid", (logit,))


def zipf_ids(rng: np.random.Generator, rows: int, shape: tuple[int, ...]) -> np.ndarray:
    """Item ids with Zipf(ZIPF_EXPONENT) popularity over `rows` items; the
    popularity ranks are scattered over the id space by a fixed permutation."""
    weights = np.arange(1, rows + 1, dtype=np.float64) ** -ZIPF_EXPONENT
    cdf = np.cumsum(weights)
    ranks = np.searchsorted(cdf, rng.random(shape) * cdf[-1], side="right")
    ranks = np.minimum(ranks, rows - 1)
    scatter = np.random.default_rng(ITEM_PERMUTATION_SEED).permutation(rows)
    return scatter[ranks].astype(np.int64)


def behaviour_inputs(rng: np.random.Generator, batch: int, steps: int, rows: int) -> dict[str, np.ndarray]:
    """A left-aligned behaviour sequence per row with a length drawn from
    1..steps: ids (padding id 0), mask (1.0 on valid steps), lengths; the
    candidate item; the user profile ids at their field offsets."""
    lens = rng.integers(1, steps + 1, size=batch, dtype=np.int64)
    mask = np.arange(steps)[None, :] < lens[:, None]
    hist = np.where(mask, zipf_ids(rng, rows, (batch, steps)), 0).astype(np.int64)
    offsets = np.cumsum((0,) + PROFILE_FIELDS[:-1])
    profile = np.stack([rng.integers(0, n, size=batch) for n in PROFILE_FIELDS], axis=1) + offsets
    return {
        "hist_ids": hist,
        "seq_mask": mask.astype(np.float32),
        "seq_lens": lens,
        "cand_id": zipf_ids(rng, rows, (batch,)),
        "user_profile": profile.astype(np.int64),
    }


def item_table(g: GraphBuilder, rows: int, dim: int) -> str:
    # Drawn with a generator of its own so the table's size does not shift the
    # stream the other weights come from.
    seed = int(g.rng.integers(2**63))
    table = np.random.default_rng(seed).standard_normal((rows, dim), dtype=np.float32)
    table *= np.float32(0.1)
    return g.const("item.table", table)


def behaviour_params(batch: int, seq_len: int, rows: int, dim: int, dim_help: str) -> tuple[Param, ...]:
    """The size params DIN and DIEN share, with their defaults."""
    return (
        Param("batch", batch, "candidate items scored per pass"),
        Param("seq_len", seq_len, "behaviour sequence length T (rows are padded to it)"),
        Param("rows", rows, "item embedding table rows"),
        Param("dim", dim, dim_help),
        Param("seed", 0, "seed of the weights", minimum=0),
    )
