"""DIEN, the Deep Interest Evolution Network (Zhou et al., AAAI 2019):

- interest extractor: a GRU over the behaviour embeddings (hidden = dim);
- attention: DIN's activation unit scores each hidden state against the
  candidate, softmax over the valid steps (as the authors' code);
- interest evolving: an AUGRU whose update gate is scaled by those scores;
  its last state joins the user profile and the candidate in the top MLP.

The auxiliary loss that supervises the extractor with the next behaviour is
training-only and has no place in an inference graph, so it is left out."""
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
    masked_softmax,
    top_mlp,
    user_profile_features,
)

INPUTS = ("hist_ids", "seq_mask", "seq_lens", "cand_id", "user_profile")


def _gru_weights(g: GraphBuilder, prefix: str, inputs: int, hidden: int) -> tuple[str, ...]:
    scale = 1.0 / np.sqrt(hidden)  # PyTorch's GRU init range, as a normal's spread
    return (
        g.weight(f"{prefix}.weight", (inputs, 3 * hidden), scale),
        g.weight(f"{prefix}.recurrence", (hidden, 3 * hidden), scale),
        g.weight(f"{prefix}.weight_bias", (3 * hidden,), 0.05),
        g.weight(f"{prefix}.recurrence_bias", (3 * hidden,), 0.05),
    )


def build_dien(batch: int, seq_len: int, rows: int, dim: int, seed: int,
               name: str = "dien") -> tuple[Graph, InputMaker]:
    g = GraphBuilder(name, seed)
    hist = g.input("hist_ids", "int64", (batch, seq_len))
    mask = g.input("seq_mask", "float32", (batch, seq_len))
    lens = g.input("seq_lens", "int64", (batch,))
    cand = g.input("cand_id", "int64", (batch,))
    profile = g.input("user_profile", "int64", (batch, 3))
    table = item_table(g, rows, dim)
    behaviours = g.op("item.hist", "Gather", (table, hist), axis=0)  # (B, T, d)
    query = g.op("item.cand", "Gather", (table, cand), axis=0)  # (B, d)
    user, user_width = user_profile_features(g, profile, batch)

    interests = g.op("extractor", "GRU", (behaviours, *_gru_weights(g, "extractor", dim, dim), lens),
                     outputs=("extractor.states", "extractor.last"))
    scores = attention_scores(g, "att", query, interests, batch, seq_len, dim)
    alpha = masked_softmax(g, "att", scores, mask)
    g.op("evolution", "AUGRU", (interests, alpha, *_gru_weights(g, "evolution", dim, dim), lens),
         outputs=("evolution.states", "evolution.last"))
    final = "evolution.last"  # the state after each row's last valid step

    x = g.op("top.input", "Concat", (user, final, query), axis=1)
    prob = top_mlp(g, x, user_width + 2 * dim)
    graph = g.graph((prob,))

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        feeds = behaviour_inputs(np.random.default_rng([seed, 0xD1E]), batch, seq_len, rows)
        return {k: feeds[k] for k in INPUTS}

    return graph, make_inputs


SPEC = ModelSpec(
    name="dien",
    summary="Deep Interest Evolution Network: GRU, attention, AUGRU, MLP 200-80-1",
    params=behaviour_params(128, 50, 200_000, 64, "item embedding width = GRU hidden size"),
    build=build_dien,
)

SMALL_SPEC = ModelSpec(
    name="dien_small",
    summary="dien at test size",
    params=behaviour_params(4, 6, 50, 8, "item embedding width = GRU hidden size"),
    build=lambda **p: build_dien(**p, name="dien_small"),
)
