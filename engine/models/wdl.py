"""Wide & Deep (Cheng et al., 2016) on Criteo-shaped data.

- Wide: a linear model over sparse features and their crosses -- an
  EmbeddingBag of width 1 (sum) over, per sample, the 26 field ids and the 25
  crosses of adjacent fields, hashed into one table of 4 * rows weights --
  plus a Linear over the 13 dense features.
- Deep: 26 EmbeddingBags of width 32 (Criteo Kaggle cardinalities capped at
  `rows`), concatenated with the dense features (13 + 26*32 = 845 wide),
  through the MLP 845-1024-512-256-1.
- Output: Sigmoid(wide + deep).

Inputs follow dlrm's synthetic data (Zipf ids, bags of 1..pooling ids).
"""
from __future__ import annotations

import numpy as np

from engine.ir import Graph
from engine.models.base import GraphBuilder, InputMaker, model_specs
from engine.models.dlrm import (
    ID_HASH,
    NUM_DENSE,
    criteo_inputs,
    criteo_rows,
    embedding_bags,
    ids_per_table,
    mlp,
    table_sizes,
)

DEEP_DIM = 32
DEEP_HIDDEN = (1024, 512, 256, 1)
WIDE_ROWS_PER_CAP = 4  # the wide hash space is 4x the per-table row cap
_FIELD_SALT = 1_000_003


def wide_rows(rows: int) -> int:
    return WIDE_ROWS_PER_CAP * rows


def wide_ids(bag_firsts: np.ndarray, space: int) -> np.ndarray:
    """Per sample, each field's first id and each adjacent pair's cross, hashed
    into [0, space): (batch, fields) -> flat (batch * (2 * fields - 1),)."""
    batch, fields = bag_firsts.shape
    salted = (bag_firsts % space + np.arange(fields) * _FIELD_SALT) % space
    crosses = (salted[:, :-1] * _FIELD_SALT + salted[:, 1:]) % space
    hashed = np.concatenate([salted, crosses], axis=1) * ID_HASH % space
    return hashed.astype(np.int64).ravel()


def build_wdl(batch: int, rows: int, pooling: int, seed: int, name: str = "wdl") -> tuple[Graph, InputMaker]:
    g = GraphBuilder(name, seed)
    sizes = table_sizes(rows)
    fields = len(sizes)
    n_ids = ids_per_table(batch, pooling)
    per_sample = 2 * fields - 1
    space = wide_rows(rows)
    dense = g.input("dense", "float32", (batch, NUM_DENSE))
    wide_idx = g.input("wide.indices", "int64", (batch * per_sample,))
    wide_off = g.input("wide.offsets", "int64", (batch,))
    wide_weight = g.const("wide.weight", g.rng.uniform(-0.05, 0.05, size=(space, 1)).astype(np.float32))
    dense_weight = g.const("wide.dense.weight", g.rng.normal(0.0, 0.05, size=(NUM_DENSE, 1)).astype(np.float32))
    dense_bias = g.const("wide.dense.bias", np.zeros(1, dtype=np.float32))
    sparse = g.op("wide.sparse", "EmbeddingBag", (wide_weight, wide_idx, wide_off), outputs=("wide.sparse.out",),
                  mode="sum")
    linear = g.op("wide.dense", "Linear", (dense, dense_weight, dense_bias), outputs=("wide.dense.out",))
    wide = g.op("wide", "Add", (sparse, linear), outputs=("wide.out",))
    pooled = embedding_bags(g, sizes, DEEP_DIM, batch, n_ids)
    deep_in = g.op("deep.input", "Concat", (dense, *pooled), outputs=("deep.input.out",), axis=1)
    deep = mlp(g, "deep", deep_in, (NUM_DENSE + fields * DEEP_DIM, *DEEP_HIDDEN), last=None)
    logit = g.op("logit", "Add", (wide, deep), outputs=("logit.out",))
    prob = g.op("prob", "Sigmoid", (logit,), outputs=("prob.out",))

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        # a stream of its own, independent of the weights
        feeds = criteo_inputs(np.random.default_rng([seed, 0x3D]), batch, sizes, n_ids, pooling)
        # each bag's first id (bags are never empty)
        firsts = np.stack([feeds[f"sparse{k}.indices"][feeds[f"sparse{k}.offsets"]] for k in range(fields)], axis=1)
        feeds["wide.indices"] = wide_ids(firsts, space)
        feeds["wide.offsets"] = np.arange(batch, dtype=np.int64) * per_sample
        return feeds

    return g.graph((prob,)), make_inputs


SPEC, SMALL_SPEC = model_specs(
    "wdl",
    "Wide & Deep: hashed wide crosses + 26 EmbeddingBags dim 32, MLP 845-1024-512-256-1",
    "wdl at test size (tables capped at 1000 rows)",
    build_wdl,
    criteo_rows("cap on rows per deep table (Criteo Kaggle sizes); the wide table has 4x", 4, 3,
                "max ids per deep bag (bags hold 1..pooling)"),
)
