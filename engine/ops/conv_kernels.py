"""Conv2d's kernel: im2col + GEMM one small chunk of images at a time, the
chunks split over the engine's threads.

Per chunk (about MIN_COLUMNS output pixels): the images are copied into a
zero-bordered buffer (the padding, and any spare row or column the layout
below reads), the columns are one strided copy of that buffer, one matmul
against the weight (group, Cout/group, Cin/group*kH*kW) gives the outputs,
and they are copied into the NCHW result with the bias added in the same
pass. Every buffer of a chunk stays in cache, where a whole-batch im2col
wrote and read back kH*kW times the input through DRAM.

Wide rows: with vertical stride 1, output row y and row y+1 read input rows
one padded-row length apart, so the columns of output rows y and y+1 join
into one run when each output row is given the padded width (divided by the
horizontal stride) instead of Wout columns: a kernel tap's whole column row
is then one contiguous (or sw-strided) run of Hout * Wp/sw elements, copied
at memcpy speed, instead of Hout runs of Wout. The extra columns hold sums
over neighbouring pixels that are dropped when the outputs are copied out;
they cost their share of GEMM work, less than the short runs cost (measured
on resnet's 3x3 convs, batch 64, one thread, with rows W + 2 apart: 19.6
against 22.0 ms at 32x32, 17.9 against 19.4 ms at 16x16). A column only
ever meets its own inputs in the GEMM, so a non-finite value read into a
dropped column stays there. The buffer's rows are W + max(left, right)
apart, not W + left + right: the zeros after a row's pixels are its right
padding and the next row's left padding at once, so a 3x3 'same' conv drops
one column per output row (33 of 32 at 32x32, 17 of 16 at 16x16).

Threads: the chunks are handed out to as many threads as the BLAS thread
limit allows (engine.ops.chunked: whichever thread is free takes the next
chunk), each thread's GEMMs on one BLAS thread, so the threads work on their
own images without a barrier per GEMM. With one image, or one thread, BLAS
keeps its own threads.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.ops.chunked import run_chunks
from engine.ops.parallel import blas_on_one_thread, threads_allowed

# Output pixels (columns) a chunk's GEMM gets at least: fewer images per chunk
# keep its buffers in cache, but each chunk costs four numpy calls (~15 us).
MIN_COLUMNS = 1024


@dataclass(frozen=True)
class ConvLayout:
    """Sizes of one conv's buffers. Input (n, c, h, w), kernel (kh, kw) with
    strides (sh, sw), pads (top, left, bottom, right), dilations (dh, dw),
    `group`, output (n, cout, ho, wo); each image is copied into an (hp, wp)
    buffer (pixels at column `left` of each row, zeros around them: the
    padding, and spare rows or columns the wide rows read) and its GEMM
    produces `wc` columns per output row, wo of them kept."""

    n: int
    c: int
    h: int
    w: int
    cout: int
    group: int
    kernel: tuple[int, int]
    strides: tuple[int, ...]
    pads: tuple[int, ...]
    dilations: tuple[int, ...]
    ho: int
    wo: int
    hp: int
    wp: int
    wc: int

    @property
    def copies_input(self) -> bool:
        """False when the buffer would be the image itself (no padding, no spare)."""
        return (self.hp, self.wp) != (self.h, self.w) or any(self.pads)

    @property
    def identity(self) -> bool:
        """A 1x1 kernel at stride 1 on the image itself: the columns are the image."""
        return self.kernel == (1, 1) and tuple(self.strides) == (1, 1) and not self.copies_input

    @property
    def images_per_chunk(self) -> int:
        return max(1, min(self.n, MIN_COLUMNS // (self.ho * self.wc)))


def conv_layout(x_shape: tuple[int, ...], w_shape: tuple[int, ...], strides: tuple[int, ...],
                pads: tuple[int, ...], dilations: tuple[int, ...], group: int, out_hw: tuple[int, int]) -> ConvLayout:
    """The buffers of a conv whose shapes and attributes are already checked."""
    n, c, h, w = x_shape
    cout, _, kh, kw = w_shape
    (sh, sw), (top, left, bottom, right), (dh, dw), (ho, wo) = strides, pads, dilations, out_hw
    wp = w + max(left, right)  # a row's right padding is the next row's left padding
    wc = wo
    if sh == 1:  # wide rows: a multiple of sw wide, so output rows join
        wp = -(-wp // sw) * sw
        wc = wp // sw
    last = (kh - 1) * dh * wp + (kw - 1) * dw + (ho - 1) * sh * wp + (wc - 1) * sw  # furthest element read
    hp = max(h + top + bottom, last // wp + 1)
    return ConvLayout(n, c, h, w, cout, group, (kh, kw), strides, pads, dilations, ho, wo, hp, wp, wc)


def kernel_bytes_beyond_minimum(lay: ConvLayout, bias: bool) -> int:
    """What the kernel writes and reads back beyond the op's minimum, float32:
    the padded image copies, the columns, the GEMM outputs before they are
    copied out (wide rows) or the in-place bias pass (otherwise). Each is a
    chunk-sized buffer that stays in cache, so this is traffic to cache."""
    n, (kh, kw) = lay.n, lay.kernel
    extra = 2 * 4 * n * lay.c * lay.hp * lay.wp if lay.copies_input else 0
    if not lay.identity:
        extra += 2 * 4 * n * lay.c * kh * kw * lay.ho * lay.wc
    if lay.wc != lay.wo or bias:
        extra += 2 * 4 * n * lay.cout * lay.ho * lay.wc
    return extra


def _columns(buf: np.ndarray, lay: ConvLayout) -> np.ndarray:
    """Read-only view (b, c, kh, kw, ho, wc) of the (b, c, hp, wp) images
    `buf`: element [b, ch, i, j, y, x] is buf[b, ch, y*sh + i*dh, x*sw + j*dw]
    (x may run past a row into the next one: a dropped column)."""
    s_b, s_c, s_h, s_w = buf.strides
    (kh, kw), (sh, sw), (dh, dw) = lay.kernel, lay.strides, lay.dilations
    return as_strided(buf, shape=(buf.shape[0], lay.c, kh, kw, lay.ho, lay.wc),
                      strides=(s_b, s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w), writeable=False)


def _scratch(lay: ConvLayout, k: int) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """One thread's chunk buffers: the zero-bordered images, the columns and
    the GEMM outputs (None where the layout needs no such copy)."""
    b, g, cols_len = lay.images_per_chunk, lay.group, lay.ho * lay.wc
    buf = np.zeros((b, lay.c, lay.hp, lay.wp), dtype=np.float32) if lay.copies_input else None
    cols = None if lay.identity else np.empty((b, g, k, cols_len), dtype=np.float32)
    out = np.empty((b, g, lay.cout // g, cols_len), dtype=np.float32) if lay.wc != lay.wo else None
    return buf, cols, out


def _conv_chunk(x: np.ndarray, kernels: np.ndarray, bias: np.ndarray | None, y: np.ndarray, lay: ConvLayout,
                n0: int, n1: int, scratch: tuple[np.ndarray | None, ...]) -> None:
    """y[n0:n1] = conv of x[n0:n1] in one thread's scratch (see the module docstring)."""
    buf, cols, out = scratch
    m, g, k, cols_len = n1 - n0, lay.group, kernels.shape[2], lay.ho * lay.wc
    top, left = lay.pads[0], lay.pads[1]
    src = x[n0:n1]
    if buf is not None:
        buf[:m, :, top:top + lay.h, left:left + lay.w] = src
        src = buf[:m]
    if cols is None:
        a = src.reshape(m, g, k, cols_len)
    else:
        a, view = cols[:m], _columns(src, lay)
        np.copyto(a.reshape(view.shape), view)
    dst = y[n0:n1]
    if out is None:
        np.matmul(kernels, a, out=dst.reshape(m, g, lay.cout // g, cols_len))
        if bias is not None:
            np.add(dst, bias, out=dst)
        return
    np.matmul(kernels, a, out=out[:m])
    kept = out[:m].reshape(m, lay.cout, lay.ho, lay.wc)[..., :lay.wo]
    if bias is None:
        np.copyto(dst, kept)
    else:
        np.add(kept, bias, out=dst)


def image_threads(n: int, limit: int) -> int:
    """Threads the images are split over under the thread `limit` (1: BLAS threads the GEMMs)."""
    return max(1, min(limit, n))


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, lay: ConvLayout) -> np.ndarray:
    """The (n, cout, ho, wo) conv of float32 x (n, c, h, w) with weight
    (cout, c/group, kh, kw) and optional bias (cout,), laid out as `lay`."""
    x = np.ascontiguousarray(x)
    g = lay.group
    kernels = np.ascontiguousarray(weight).reshape(g, lay.cout // g, -1)
    b = None if bias is None else bias.reshape(lay.cout, 1, 1)
    y = np.empty((lay.n, lay.cout, lay.ho, lay.wo), dtype=np.float32)
    threads = image_threads(lay.n, threads_allowed())
    size = min(lay.images_per_chunk, -(-lay.n // threads))  # a chunk for every thread
    with blas_on_one_thread() if threads > 1 else contextlib.nullcontext():
        run_chunks(lambda n0, n1, scratch: _conv_chunk(x, kernels, b, y, lay, n0, n1, scratch),
                   lambda: _scratch(lay, kernels.shape[2]), lay.n, size, threads)
    return y


__all__ = ["MIN_COLUMNS", "ConvLayout", "conv2d", "conv_layout", "image_threads",
           "kernel_bytes_beyond_minimum"]
