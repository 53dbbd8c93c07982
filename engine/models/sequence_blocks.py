"""Building blocks shared by the behaviour-sequence models (DIN, DIEN): the
inputs and their lookups, DIN's attention unit, the user-profile lookup, the
top MLP, the synthetic inputs (Zipf item ids, variable sequence lengths) and
the size params.

Every block is composed of registered ops, so each piece is its own profiled
layer and maps one to one onto an ONNX operator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.ir import Graph
from engine.models.base import GraphBuilder, InputMaker, ParamRow

# User profile fields (vocabulary sizes) looked up in one table with per-field
# row offsets, as a serving system ships them: gender, age bucket, city.
PROFILE_FIELDS = (3, 10, 400)
PROFILE_DIM = 16
ATTENTION_HIDDEN = (80, 40)  # DIN's local activation unit, 4d -> 80 -> 40 -> 1
TOP_MLP = (200, 80)  # then -> 1 -> Sigmoid
MASK_PENALTY = 1e9  # added (negated) to padded logits before a softmax
ZIPF_EXPONENT = 1.05  # item popularity: a few hot items, a long tail
ITEM_PERMUTATION_SEED = 0x5EC  # fixed scatter of popularity ranks over the item ids


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


def behaviour_rows(dim_help: str) -> tuple[ParamRow, ...]:
    """The size params DIN and DIEN share: (name, default, test size, help)."""
    return (
        ("batch", 128, 4, "candidate items scored per pass"),
        ("seq_len", 50, 6, "behaviour sequence length T (rows are padded to it)"),
        ("rows", 200_000, 50, "item embedding table rows"),
        ("dim", 64, 8, dim_help),
    )


@dataclass(frozen=True)
class Behaviours:
    """A behaviour model's sizes and the tensors it starts from."""

    batch: int
    seq_len: int
    rows: int
    dim: int
    mask: str  # seq_mask (B, T)
    lens: str | None  # seq_lens (B,), where the model takes them
    items: str  # the behaviour embeddings (B, T, d)
    query: str  # the candidate's embedding (B, d)
    user: str  # the user profile features (B, user_width)
    user_width: int


def behaviour_lookups(g: GraphBuilder, batch: int, seq_len: int, rows: int, dim: int,
                      lengths: bool) -> Behaviours:
    """The graph inputs (hist_ids, seq_mask, [seq_lens], cand_id,
    user_profile), the item table and the lookups of the behaviours, the
    candidate and the user profile."""
    hist = g.input("hist_ids", "int64", (batch, seq_len))
    mask = g.input("seq_mask", "float32", (batch, seq_len))
    lens = g.input("seq_lens", "int64", (batch,)) if lengths else None
    cand = g.input("cand_id", "int64", (batch,))
    profile = g.input("user_profile", "int64", (batch, 3))
    table = item_table(g, rows, dim)
    items = g.op("item.hist", "Gather", (table, hist), axis=0)  # (B, T, d)
    query = g.op("item.cand", "Gather", (table, cand), axis=0)  # (B, d)
    user, user_width = user_profile_features(g, profile, batch)
    return Behaviours(batch, seq_len, rows, dim, mask, lens, items, query, user, user_width)


def click_model(g: GraphBuilder, b: Behaviours, interest: str, data_key: int) -> tuple[Graph, InputMaker]:
    """Concat(user, interest, candidate) through the top MLP to the click
    probability: the graph, and its input maker (data drawn from a stream
    keyed by the seed and `data_key`, independent of the weights)."""
    x = g.op("top.input", "Concat", (b.user, interest, b.query), axis=1)
    graph = g.graph((top_mlp(g, x, b.user_width + 2 * b.dim),))
    names = [spec.name for spec in graph.inputs]

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        feeds = behaviour_inputs(np.random.default_rng([seed, data_key]), b.batch, b.seq_len, b.rows)
        return {k: feeds[k] for k in names}

    return graph, make_inputs
