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

from engine.ir import Graph, Node, TensorSpec
from engine.models.base import InputMaker, ModelSpec, Param
from engine.models.dlrm import (
    NUM_DENSE,
    dense_features,
    embedding_table,
    ids_per_table,
    mlp,
    sparse_feature,
    table_sizes,
)

DEEP_DIM = 32
DEEP_HIDDEN = (1024, 512, 256, 1)
WIDE_ROWS_PER_CAP = 4  # the wide hash space is 4x the per-table row cap
_FIELD_SALT = 1_000_003
_HASH = 2654435761


def wide_rows(rows: int) -> int:
    return WIDE_ROWS_PER_CAP * rows


def wide_ids(bag_firsts: np.ndarray, space: int) -> np.ndarray:
    """Per sample, each field's first id and each adjacent pair's cross, hashed
    into [0, space): (batch, fields) -> flat (batch * (2 * fields - 1),)."""
    batch, fields = bag_firsts.shape
    salted = (bag_firsts % space + np.arange(fields) * _FIELD_SALT) % space
    crosses = (salted[:, :-1] * _FIELD_SALT + salted[:, 1:]) % space
    hashed = np.concatenate([salted, crosses], axis=1) * _HASH % space
    return hashed.astype(np.int64).ravel()


def build_wdl(batch: int, rows: int, pooling: int, seed: int, name: str = "wdl") -> tuple[Graph, InputMaker]:
    rng = np.random.default_rng(seed)
    sizes = table_sizes(rows)
    fields = len(sizes)
    n_ids = ids_per_table(batch, pooling)
    per_sample = 2 * fields - 1
    space = wide_rows(rows)
    inputs = [
        TensorSpec("dense", "float32", (batch, NUM_DENSE)),
        TensorSpec("wide.indices", "int64", (batch * per_sample,)),
        TensorSpec("wide.offsets", "int64", (batch,)),
    ]
    initializers: dict[str, np.ndarray] = {
        "wide.weight": rng.uniform(-0.05, 0.05, size=(space, 1)).astype(np.float32),
        "wide.dense.weight": rng.normal(0.0, 0.05, size=(NUM_DENSE, 1)).astype(np.float32),
        "wide.dense.bias": np.zeros(1, dtype=np.float32),
    }
    nodes = [
        Node("wide.sparse", "EmbeddingBag", ("wide.weight", "wide.indices", "wide.offsets"),
             ("wide.sparse.out",), {"mode": "sum"}),
        Node("wide.dense", "Linear", ("dense", "wide.dense.weight", "wide.dense.bias"), ("wide.dense.out",)),
        Node("wide", "Add", ("wide.sparse.out", "wide.dense.out"), ("wide.out",)),
    ]
    pooled = []
    for k, table_rows in enumerate(sizes):
        weight, idx, off = f"emb{k}.weight", f"sparse{k}.indices", f"sparse{k}.offsets"
        inputs += [TensorSpec(idx, "int64", (n_ids,)), TensorSpec(off, "int64", (batch,))]
        initializers[weight] = embedding_table(rng, table_rows, DEEP_DIM)
        nodes.append(Node(f"emb{k}", "EmbeddingBag", (weight, idx, off), (f"emb{k}.out",), {"mode": "sum"}))
        pooled.append(f"emb{k}.out")
    nodes.append(Node("deep.input", "Concat", ("dense", *pooled), ("deep.input.out",), {"axis": 1}))
    width = NUM_DENSE + fields * DEEP_DIM
    deep = mlp("deep", "deep.input.out", (width, *DEEP_HIDDEN), rng, initializers, nodes, last=None)
    nodes.append(Node("logit", "Add", ("wide.out", deep), ("logit.out",)))
    nodes.append(Node("prob", "Sigmoid", ("logit.out",), ("prob.out",)))
    graph = Graph(name=name, inputs=tuple(inputs), initializers=initializers, nodes=tuple(nodes),
                  outputs=("prob.out",))

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        data_rng = np.random.default_rng([seed, 0x3D])  # independent of the weight stream
        feeds = {"dense": dense_features(data_rng, batch)}
        firsts = np.empty((batch, fields), dtype=np.int64)
        for k, table_rows in enumerate(sizes):
            idx, off = sparse_feature(data_rng, batch, table_rows, n_ids, pooling)
            feeds[f"sparse{k}.indices"], feeds[f"sparse{k}.offsets"] = idx, off
            firsts[:, k] = idx[off]  # bags are never empty
        feeds["wide.indices"] = wide_ids(firsts, space)
        feeds["wide.offsets"] = np.arange(batch, dtype=np.int64) * per_sample
        return feeds

    return graph, make_inputs


def _params(batch: int, rows: int, pooling: int) -> tuple[Param, ...]:
    return (
        Param("batch", batch, "samples per forward pass"),
        Param("rows", rows, "cap on rows per deep table (Criteo Kaggle sizes); the wide table has 4x"),
        Param("pooling", pooling, "max ids per deep bag (bags hold 1..pooling)"),
        Param("seed", 0, "seed of the weights", minimum=0),
    )


SPEC = ModelSpec(
    name="wdl",
    summary="Wide & Deep: hashed wide crosses + 26 EmbeddingBags dim 32, MLP 845-1024-512-256-1",
    params=_params(128, 100_000, 4),
    build=build_wdl,
)

SMALL_SPEC = ModelSpec(
    name="wdl_small",
    summary="wdl at test size (tables capped at 1000 rows)",
    params=_params(8, 1000, 3),
    build=lambda **p: build_wdl(**p, name="wdl_small"),
)
