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
from engine.models.base import GraphBuilder, InputMaker, model_specs
from engine.models.sequence_blocks import (
    attention_scores,
    behaviour_lookups,
    behaviour_rows,
    click_model,
    masked_softmax,
)


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
    b = behaviour_lookups(g, batch, seq_len, rows, dim, lengths=True)
    interests = g.op("extractor", "GRU", (b.items, *_gru_weights(g, "extractor", dim, dim), b.lens),
                     outputs=("extractor.states", "extractor.last"))
    scores = attention_scores(g, "att", b.query, interests, batch, seq_len, dim)
    alpha = masked_softmax(g, "att", scores, b.mask)
    g.op("evolution", "AUGRU", (interests, alpha, *_gru_weights(g, "evolution", dim, dim), b.lens),
         outputs=("evolution.states", "evolution.last"))
    final = "evolution.last"  # the state after each row's last valid step
    return click_model(g, b, final, data_key=0xD1E)


SPEC, SMALL_SPEC = model_specs(
    "dien",
    "Deep Interest Evolution Network: GRU, attention, AUGRU, MLP 200-80-1",
    "dien at test size",
    build_dien,
    behaviour_rows("item embedding width = GRU hidden size"),
)
