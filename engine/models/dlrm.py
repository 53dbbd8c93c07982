"""DLRM (facebookresearch/dlrm) on Criteo-shaped data: 13 dense features
through the bottom MLP 13-512-256-64, 26 categorical features through
EmbeddingBags of width 64, the dot interaction without self-interaction
(64 + 27*26/2 = 415 wide), and the top MLP 415-512-256-1 ending in a Sigmoid
(the Criteo Terabyte configuration).

Tables take the Criteo Kaggle cardinalities, capped at `rows`: the biggest
(10M rows) would not fit a laptop, and a cap of 100_000 still puts ~215 MB of
tables, far beyond any last-level cache, behind the lookups.

Synthetic inputs: every bag holds 1..`pooling` ids (uniform), with a fixed
total of batch * (pooling + 1) // 2 ids per table so the graph's input shapes
stay static; ids are Zipf-distributed (a = 1.1, the hot ids scattered over
the table by a multiplicative hash) as in real click logs; dense features are
log(1 + count) of heavy-tailed counts, as DLRM preprocesses Criteo.

The helpers (sparse_feature, mlp, ...) are shared with the Wide & Deep model.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.ir import Graph, Node, TensorSpec
from engine.models.base import InputMaker, ModelSpec, Param

CRITEO_KAGGLE_TABLE_SIZES = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
    27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)
NUM_DENSE = 13
EMBEDDING_DIM = 64
BOTTOM_MLP = (NUM_DENSE, 512, 256, EMBEDDING_DIM)
TOP_HIDDEN = (512, 256, 1)
ZIPF_A = 1.1
_HASH = 2654435761  # a prime near 2^32 / golden ratio: spreads hot ids over the table


def table_sizes(cap: int) -> list[int]:
    return [min(size, cap) for size in CRITEO_KAGGLE_TABLE_SIZES]


def ids_per_table(batch: int, pooling: int) -> int:
    return batch * (pooling + 1) // 2


def zipf_ids(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """`n` Zipf-distributed ids in [0, rows), the popular ones scattered by a hash."""
    ranks = (rng.zipf(ZIPF_A, n) - 1) % rows
    return (ranks * _HASH % rows).astype(np.int64)


def bag_lengths(rng: np.random.Generator, batch: int, total: int, max_len: int) -> np.ndarray:
    """`batch` lengths in 1..max_len, roughly uniform, summing exactly to `total`."""
    if not batch <= total <= batch * max_len:
        raise ValueError(f"cannot split {total} ids into {batch} bags of 1..{max_len}")
    lengths = rng.integers(1, max_len + 1, batch)
    while (gap := total - int(lengths.sum())) != 0:
        room = np.flatnonzero(lengths < max_len) if gap > 0 else np.flatnonzero(lengths > 1)
        pick = rng.choice(room, size=min(abs(gap), room.size), replace=False)
        lengths[pick] += 1 if gap > 0 else -1
    return lengths


def sparse_feature(rng: np.random.Generator, batch: int, rows: int, total: int, max_len: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(indices, offsets) of `batch` bags over a table of `rows` rows."""
    lengths = bag_lengths(rng, batch, total, max_len)
    offsets = np.zeros(batch, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return zipf_ids(rng, total, rows), offsets


def dense_features(rng: np.random.Generator, batch: int, width: int = NUM_DENSE) -> np.ndarray:
    counts = rng.lognormal(mean=1.0, sigma=1.5, size=(batch, width))
    return np.log1p(counts).astype(np.float32)


def embedding_table(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """uniform(-sqrt(1/rows), sqrt(1/rows)) as DLRM; scaled in place (tables are big)."""
    table = rng.random((rows, dim), dtype=np.float32)
    table *= np.float32(2.0)
    table -= np.float32(1.0)
    table *= np.float32(np.sqrt(1.0 / rows))
    return table


def mlp(prefix: str, x: str, sizes: Sequence[int], rng: np.random.Generator,
        initializers: dict[str, np.ndarray], nodes: list[Node], last: str | None) -> str:
    """Linear layers `sizes[0]` -> ... -> `sizes[-1]` with Relu between them and
    `last` ("Relu", "Sigmoid" or None) after the final one; DLRM's init
    (weights normal(0, sqrt(2/(m+n))), biases normal(0, sqrt(1/n))). Returns
    the output tensor name."""
    count = len(sizes) - 1
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        w, b, out = f"{prefix}.fc{i}.weight", f"{prefix}.fc{i}.bias", f"{prefix}.fc{i}.out"
        initializers[w] = rng.normal(0.0, np.sqrt(2.0 / (k + n)), size=(k, n)).astype(np.float32)
        initializers[b] = rng.normal(0.0, np.sqrt(1.0 / n), size=n).astype(np.float32)
        nodes.append(Node(f"{prefix}.fc{i}", "Linear", (x, w, b), (out,)))
        x = out
        activation = "Relu" if i < count else last
        if activation is not None:
            act = f"{prefix}.{activation.lower()}{i}"
            nodes.append(Node(act, activation, (x,), (f"{act}.out",)))
            x = f"{act}.out"
    return x


def build_dlrm(batch: int, rows: int, pooling: int, seed: int, name: str = "dlrm") -> tuple[Graph, InputMaker]:
    rng = np.random.default_rng(seed)
    sizes = table_sizes(rows)
    n_ids = ids_per_table(batch, pooling)
    inputs = [TensorSpec("dense", "float32", (batch, NUM_DENSE))]
    initializers: dict[str, np.ndarray] = {}
    nodes: list[Node] = []

    bottom = mlp("bot", "dense", BOTTOM_MLP, rng, initializers, nodes, last="Relu")
    pooled = []
    for k, table_rows in enumerate(sizes):
        weight, idx, off = f"emb{k}.weight", f"sparse{k}.indices", f"sparse{k}.offsets"
        inputs += [TensorSpec(idx, "int64", (n_ids,)), TensorSpec(off, "int64", (batch,))]
        initializers[weight] = embedding_table(rng, table_rows, EMBEDDING_DIM)
        nodes.append(Node(f"emb{k}", "EmbeddingBag", (weight, idx, off), (f"emb{k}.out",), {"mode": "sum"}))
        pooled.append(f"emb{k}.out")
    nodes.append(Node("interact", "DotInteraction", (bottom, *pooled), ("interact.out",)))
    width = EMBEDDING_DIM + (len(sizes) + 1) * len(sizes) // 2
    top = mlp("top", "interact.out", (width, *TOP_HIDDEN), rng, initializers, nodes, last="Sigmoid")
    graph = Graph(name=name, inputs=tuple(inputs), initializers=initializers, nodes=tuple(nodes), outputs=(top,))

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        data_rng = np.random.default_rng([seed, 0xD7])  # independent of the weight stream
        feeds = {"dense": dense_features(data_rng, batch)}
        for k, table_rows in enumerate(sizes):
            feeds[f"sparse{k}.indices"], feeds[f"sparse{k}.offsets"] = sparse_feature(
                data_rng, batch, table_rows, n_ids, pooling)
        return feeds

    return graph, make_inputs


def _params(batch: int, rows: int, pooling: int) -> tuple[Param, ...]:
    return (
        Param("batch", batch, "samples per forward pass"),
        Param("rows", rows, "cap on rows per table (Criteo Kaggle sizes, capped)"),
        Param("pooling", pooling, "max ids per bag (bags hold 1..pooling, mean ~pooling/2)"),
        Param("seed", 0, "seed of the weights", minimum=0),
    )


SPEC = ModelSpec(
    name="dlrm",
    summary="DLRM, Criteo Terabyte shape: 26 EmbeddingBags dim 64, dot interaction, MLPs 13-512-256-64 / 415-512-256-1",
    params=_params(128, 100_000, 20),
    build=build_dlrm,
)

SMALL_SPEC = ModelSpec(
    name="dlrm_small",
    summary="dlrm at test size (tables capped at 1000 rows)",
    params=_params(8, 1000, 4),
    build=lambda **p: build_dlrm(**p, name="dlrm_small"),
)
