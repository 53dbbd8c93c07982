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

The helpers (mlp, embedding_bags, criteo_inputs, criteo_rows, ...) are shared
with the Wide & Deep model.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.ir import Graph
from engine.models.base import GraphBuilder, InputMaker, ParamRow, model_specs

CRITEO_KAGGLE_TABLE_SIZES = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194,
    27, 14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)
NUM_DENSE = 13
EMBEDDING_DIM = 64
BOTTOM_MLP = (NUM_DENSE, 512, 256, EMBEDDING_DIM)
TOP_HIDDEN = (512, 256, 1)
ZIPF_A = 1.1
ID_HASH = 2654435761  # a prime near 2^32 / golden ratio: spreads hot ids over the table


def table_sizes(cap: int) -> list[int]:
    return [min(size, cap) for size in CRITEO_KAGGLE_TABLE_SIZES]


def ids_per_table(batch: int, pooling: int) -> int:
    return batch * (pooling + 1) // 2


def zipf_ids(rng: np.random.Generator, n: int, rows: int) -> np.ndarray:
    """`n` Zipf-distributed ids in [0, rows), the popular ones scattered by a hash."""
    ranks = (rng.zipf(ZIPF_A, n) - 1) % rows
    return (ranks * ID_HASH % rows).astype(np.int64)


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


def mlp(g: GraphBuilder, prefix: str, x: str, sizes: Sequence[int], last: str | None) -> str:
    """Linear layers `sizes[0]` -> ... -> `sizes[-1]` with Relu between them and
    `last` ("Relu", "Sigmoid" or None) after the final one; DLRM's init
    (weights normal(0, sqrt(2/(m+n))), biases normal(0, sqrt(1/n))). Returns
    the output tensor name."""
    count = len(sizes) - 1
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        w = g.const(f"{prefix}.fc{i}.weight",
                    g.rng.normal(0.0, np.sqrt(2.0 / (k + n)), size=(k, n)).astype(np.float32))
        b = g.const(f"{prefix}.fc{i}.bias", g.rng.normal(0.0, np.sqrt(1.0 / n), size=n).astype(np.float32))
        x = g.op(f"{prefix}.fc{i}", "Linear", (x, w, b), outputs=(f"{prefix}.fc{i}.out",))
        activation = "Relu" if i < count else last
        if activation is not None:
            act = f"{prefix}.{activation.lower()}{i}"
            x = g.op(act, activation, (x,), outputs=(f"{act}.out",))
    return x


def embedding_bags(g: GraphBuilder, sizes: Sequence[int], dim: int, batch: int, n_ids: int) -> list[str]:
    """Per table k of `sizes` rows: the inputs sparse{k}.indices (n_ids,) and
    sparse{k}.offsets (batch,), the table emb{k}.weight and a sum
    EmbeddingBag. Returns the pooled (batch, dim) outputs."""
    pooled = []
    for k, table_rows in enumerate(sizes):
        idx = g.input(f"sparse{k}.indices", "int64", (n_ids,))
        off = g.input(f"sparse{k}.offsets", "int64", (batch,))
        weight = g.const(f"emb{k}.weight", embedding_table(g.rng, table_rows, dim))
        pooled.append(g.op(f"emb{k}", "EmbeddingBag", (weight, idx, off), outputs=(f"emb{k}.out",), mode="sum"))
    return pooled


def criteo_inputs(rng: np.random.Generator, batch: int, sizes: Sequence[int], n_ids: int,
                  pooling: int) -> dict[str, np.ndarray]:
    """Feeds for the dense input and embedding_bags' inputs."""
    feeds = {"dense": dense_features(rng, batch)}
    for k, table_rows in enumerate(sizes):
        feeds[f"sparse{k}.indices"], feeds[f"sparse{k}.offsets"] = sparse_feature(
            rng, batch, table_rows, n_ids, pooling)
    return feeds


def build_dlrm(batch: int, rows: int, pooling: int, seed: int, name: str = "dlrm") -> tuple[Graph, InputMaker]:
    g = GraphBuilder(name, seed)
    sizes = table_sizes(rows)
    n_ids = ids_per_table(batch, pooling)
    dense = g.input("dense", "float32", (batch, NUM_DENSE))
    bottom = mlp(g, "bot", dense, BOTTOM_MLP, last="Relu")
    pooled = embedding_bags(g, sizes, EMBEDDING_DIM, batch, n_ids)
    interact = g.op("interact", "DotInteraction", (bottom, *pooled), outputs=("interact.out",))
    width = EMBEDDING_DIM + (len(sizes) + 1) * len(sizes) // 2
    top = mlp(g, "top", interact, (width, *TOP_HIDDEN), last="Sigmoid")

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        # a stream of its own, independent of the weights
        return criteo_inputs(np.random.default_rng([seed, 0xD7]), batch, sizes, n_ids, pooling)

    return g.graph((top,)), make_inputs


def criteo_rows(rows_help: str, pooling: int, small_pooling: int, pooling_help: str) -> tuple[ParamRow, ...]:
    """The size params dlrm and wdl share: (name, default, test size, help)."""
    return (
        ("batch", 128, 8, "samples per forward pass"),
        ("rows", 100_000, 1000, rows_help),
        ("pooling", pooling, small_pooling, pooling_help),
    )


SPEC, SMALL_SPEC = model_specs(
    "dlrm",
    "DLRM, Criteo Terabyte shape: 26 EmbeddingBags dim 64, dot interaction, MLPs 13-512-256-64 / 415-512-256-1",
    "dlrm at test size (tables capped at 1000 rows)",
    build_dlrm,
    criteo_rows("cap on rows per table (Criteo Kaggle sizes, capped)", 20, 4,
                "max ids per bag (bags hold 1..pooling, mean ~pooling/2)"),
)
