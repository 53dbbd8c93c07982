"""EmbeddingBag: look up rows of a table and pool each bag (sum or mean), as
torch.nn.EmbeddingBag(mode=..., include_last_offset=False).

Inputs: weight (rows, dim) float32; indices int64 (n,), every bag's ids
concatenated; offsets int64 (batch,), where each bag starts in `indices`
(offsets[0] == 0, non-decreasing). Output (batch, dim); an empty bag gives
zeros in both modes.

With numba importable, a compiled kernel pools each row straight into its
bag with prefetching and follows the BLAS thread limit
(engine.ops.embedding_kernels). Without it, numpy: np.take gathers the rows
(a row copy per id keeps several cache misses in flight) into a contiguous
scratch block, then scipy's CSR x dense kernel pools the bags: the bags are a
sparse (batch, n) matrix whose row pointer is `offsets` and whose values are
1 (sum) or 1/len(bag) (mean). That pools without per-bag Python work and
gives empty bags zeros for free (np.add.reduceat, the obvious alternative,
mishandles empty bags and is slower). Both paths give bit-identical results.
benchmarks/embedding_bandwidth.py compares them.

`embedding_bags` runs k lookups in one compiled call (GroupedEmbeddingBag);
`bits` 8 or 4 reads FBGEMM row-wise quantized uint8 tables
(engine.quant.rowwise; the ops in engine.ops.embedding_rowwise), the numpy
path dequantizing the gathered rows before pooling them.

FLOPs: one add per gathered element (n * dim), plus one divide per output
element in mean mode (batch * dim), whatever the kernel does internally.
Bytes: indices and offsets read, only the gathered rows of the table read
(n * dim * itemsize, not the whole table: that is the minimum traffic), and
the output written.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse

from engine.ops import embedding_kernels
from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, numel
from engine.quant.rowwise import dequantize_rows

try:  # scipy's C++ CSR x dense kernel, called without building a sparse-array object (~20 us a call)
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # private module: fall back to the public API if scipy ever moves it
    _csr_matvecs = None

EMBEDDING_BAG_MODES = ("sum", "mean")


def _out_of_range(indices: np.ndarray, pos: int, rows: int) -> ValueError:
    return ValueError(
        f"EmbeddingBag indices: id {int(indices[pos])} at position {pos} is out of range for "
        f"the weight table of {rows} rows (valid ids 0..{rows - 1})"
    )


def _check_ids(weight: np.ndarray, indices: np.ndarray) -> None:
    rows = weight.shape[0]
    if indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= rows:
            raise _out_of_range(indices, int(np.flatnonzero((indices < 0) | (indices >= rows))[0]), rows)


def _check_offsets(indices: np.ndarray, offsets: np.ndarray) -> None:
    if offsets[0] != 0:
        raise ValueError(f"EmbeddingBag offsets: the first bag must start at 0, got offsets[0] = {int(offsets[0])}")
    if offsets.size > 1 and (bad := np.flatnonzero(np.diff(offsets) < 0)).size:
        i = int(bad[0])
        raise ValueError(
            f"EmbeddingBag offsets: must be non-decreasing, but offsets[{i}] = {int(offsets[i])} > "
            f"offsets[{i + 1}] = {int(offsets[i + 1])}"
        )
    if offsets[-1] > indices.size:
        raise ValueError(
            f"EmbeddingBag offsets: the last bag starts at {int(offsets[-1])}, past the end of the "
            f"{indices.size} indices"
        )


def embedding_bag(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str = "sum", *,
                  bits: int = 0, dim: int | None = None) -> np.ndarray:
    """The pooled (batch, dim) output; raises ValueError for out-of-range ids or bad offsets.
    bits 8 or 4: `weight` is a row-wise quantized uint8 table (engine.quant.rowwise) of width `dim`."""
    if embedding_kernels.AVAILABLE:
        weight, indices, offsets = _contiguous(weight), _contiguous(indices), _contiguous(offsets)
        # the compiled check (~0.7 us) instead of numpy's three passes (~3 us); numpy words the error
        if not offsets.size or embedding_kernels.first_bad_offsets((indices,), (offsets,)) >= 0:
            _check_offsets(indices, offsets)
        out, bad = embedding_kernels.pool_bags(weight, indices, offsets, mode == "mean", bits=bits, dim=dim)
        if bad >= 0:
            raise _out_of_range(indices, bad, weight.shape[0])
        return out
    _check_offsets(indices, offsets)
    _check_ids(weight, indices)
    return embedding_bag_numpy(weight, indices, offsets, mode, bits=bits, dim=dim)


def embedding_bags(tables: Sequence[np.ndarray], indices: Sequence[np.ndarray], offsets: Sequence[np.ndarray],
                   mode: str = "sum", *, dedup: bool = False, bits: int = 0,
                   dims: Sequence[int] | None = None) -> tuple[np.ndarray, ...]:
    """k lookups in one call (the grouped kernel, engine.ops.embedding_kernels.pool_grouped):
    the k pooled outputs, each bit-identical to embedding_bag's. Errors name the table
    ("table #k: ..."). bits/dims as embedding_bag's bits/dim, shared bits, one dim per table."""
    dims = [None] * len(tables) if dims is None else list(dims)
    if not embedding_kernels.AVAILABLE:
        return tuple(_for_table(k, embedding_bag, t, i, o, mode, bits=bits, dim=d)
                     for k, (t, i, o, d) in enumerate(zip(tables, indices, offsets, dims)))
    tables, indices, offsets = ([_contiguous(a) for a in arrays] for arrays in (tables, indices, offsets))
    if (k := embedding_kernels.first_bad_offsets(indices, offsets)) >= 0:
        _for_table(k, _check_offsets, indices[k], offsets[k])
    outs, k, bad = embedding_kernels.pool_grouped(tables, indices, offsets, mode == "mean", bits=bits, dedup=dedup,
                                                  dims=None if bits == 0 else dims)
    if k >= 0:
        raise ValueError(f"table #{k}: {_out_of_range(indices[k], bad, tables[k].shape[0])}")
    return outs


def _for_table(k: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        raise ValueError(f"table #{k}: {e}") from None


def _contiguous(a: np.ndarray) -> np.ndarray:
    # the compiled kernels take tuples of C-contiguous arrays (one numba type for all)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def embedding_bag_numpy(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str, *,
                        bits: int = 0, dim: int | None = None) -> np.ndarray:
    """The numpy path; ids and offsets must already be checked."""
    # ids are checked, so "clip" only skips numpy's buffered bounds check
    gathered = np.take(weight, indices, axis=0, mode="clip")
    if bits:
        gathered = dequantize_rows(gathered, bits, dim)
    return pool_gathered(gathered, offsets, mode)


def pool_gathered(gathered: np.ndarray, offsets: np.ndarray, mode: str) -> np.ndarray:
    """Pools consecutive rows of `gathered` (n, dim) into bags starting at `offsets`."""
    (n, dim), batch = gathered.shape, offsets.size
    indptr = np.empty(batch + 1, dtype=np.int64)
    indptr[:batch] = offsets
    indptr[batch] = n
    if mode == "mean":
        lengths = np.diff(indptr)
        values = np.repeat((1.0 / np.maximum(lengths, 1)).astype(gathered.dtype), lengths)
    else:
        values = np.ones(n, dtype=gathered.dtype)
    positions = np.arange(n, dtype=np.int64)
    if _csr_matvecs is None:
        bags = scipy.sparse.csr_array((values, positions, indptr), shape=(batch, n), copy=False)
        return np.ascontiguousarray(bags @ gathered, dtype=gathered.dtype)
    out = np.zeros((batch, dim), dtype=gathered.dtype)
    _csr_matvecs(batch, n, dim, indptr, positions, values, gathered, out)
    return out


class EmbeddingBag(Op):
    op_type = "EmbeddingBag"
    input_roles = ("weight", "indices", "offsets")
    min_inputs = 3
    attr_defaults = {"mode": "sum"}
    input_dtypes = ("float32", "int64", "int64")
    dtype_error = "{input} has dtype {dtype} but must be {allowed}"

    @classmethod
    def _mode(cls, attrs: Mapping[str, Any]) -> str:
        mode = attrs.get("mode", "sum")
        if mode not in EMBEDDING_BAG_MODES:
            raise ShapeError(f"attribute mode is {mode!r}; expected one of {', '.join(map(repr, EMBEDDING_BAG_MODES))}")
        return mode

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        cls._mode(attrs)
        weight, indices, offsets = (tuple(s) for s in input_shapes)
        if len(weight) != 2:
            raise ShapeError(f"{cls.label(0, names)} has shape {fmt_shape(weight)} but must be 2-D (rows, dim)")
        for i, shape in ((1, indices), (2, offsets)):
            if len(shape) != 1:
                raise ShapeError(f"{cls.label(i, names)} has shape {fmt_shape(shape)} but must be 1-D")
        return ((offsets[0], weight[1]),)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        weight, indices, offsets = inputs
        return (embedding_bag(weight, indices, offsets, cls._mode(attrs)),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        (_, dim), (n,), (batch,) = input_shapes
        return n * dim + (batch * dim if cls._mode(attrs) == "mean" else 0)

    @classmethod
    def bytes(
        cls, input_shapes: Sequence[Shape], output_shapes: Sequence[Shape], dtypes: Sequence[str]
    ) -> int:
        (_, dim), (n,), (batch,) = input_shapes
        w, i, o, y = (np.dtype(dt).itemsize for dt in dtypes)
        return n * i + batch * o + n * dim * w + numel(output_shapes[0]) * y

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        (n,), (batch,) = input_shapes[1], input_shapes[2]
        return embedding_kernels.pool_threads(n, batch, limit) if embedding_kernels.AVAILABLE else 1

    @classmethod
    def gathered(cls, input_shapes: Shapes, dtypes: Sequence[str], attrs: Attrs) -> list[tuple[int, int]]:
        """One row of the table per id (a packed row of a row-wise table, its bytes)."""
        (_, width), (n,) = input_shapes[0], input_shapes[1]
        row = width * np.dtype(dtypes[0]).itemsize
        return [(row, n * row)]
