"""DIN, the Deep Interest Network (Zhou et al., KDD 2018): the candidate item
attends over the user's behaviour sequence with the local activation unit
(no softmax: the weights keep the intensity of interest), and the weighted
sum of the behaviour embeddings joins the user profile and the candidate in
the top MLP. Hidden activations are Sigmoid/Relu rather than Dice/PReLU so
every layer has a plain ONNX equivalent."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph
from engine.models.base import InputMaker, ModelSpec
from engine.models.sequence_blocks import (
    GraphBuilder,
    attention_scores,
    behaviour_inputs,
    behaviour_params,
    item_table,
    top_mlp,
    user_profile_features,
)

INPUTS = ("hist_ids", "seq_mask", "cand_id", "user_profile")


def build_din(batch: int, seq_len: int, rows: int, dim: int, seed: int,
              name: str = "din") -> tuple[Graph, InputMaker]:
    g = GraphBuilder(name, seed)
    hist = g.input("hist_ids", "int64", (batch, seq_len))
    mask = g.input("seq_mask", "float32", (batch, seq_len))
    cand = g.input("cand_id", "int64", (batch,))
    profile = g.input("user_profile", "int64", (batch, 3))
    table = item_table(g, rows, dim)
    keys = g.op("item.hist", "Gather", (table, hist), axis=0)  # (B, T, d)
    query = g.op("item.cand", "Gather", (table, cand), axis=0)  # (B, d)
    user, user_width = user_profile_features(g, profile, batch)

    scores = attention_scores(g, "att", query, keys, batch, seq_len, dim)
    weights = g.op("att.masked", "Mul", (scores, mask))
    w3 = g.op("att.weights", "Reshape", (weights,), shape=[batch, 1, seq_len])
    pooled = g.op("att.pool", "MatMul", (w3, keys))  # (B, 1, d): sum_t w_t k_t
    interest = g.op("att.interest", "Reshape", (pooled,), shape=[batch, dim])

    x = g.op("top.input", "Concat", (user, interest, query), axis=1)
    prob = top_mlp(g, x, user_width + 2 * dim)
    graph = g.graph((prob,))

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        feeds = behaviour_inputs(np.random.default_rng([seed, 0xD1]), batch, seq_len, rows)
        return {k: feeds[k] for k in INPUTS}

    return graph, make_inputs


SPEC = ModelSpec(
    name="din",
    summary="Deep Interest Network: attention over the behaviour sequence, MLP 200-80-1",
    params=behaviour_params(128, 50, 200_000, 64, "item embedding width"),
    build=build_din,
)

SMALL_SPEC = ModelSpec(
    name="din_small",
    summary="din at test size",
    params=behaviour_params(4, 6, 50, 8, "item embedding width"),
    build=lambda **p: build_din(**p, name="din_small"),
)
