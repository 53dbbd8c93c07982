"""Fault injection: make one layer genuinely slower while its nominal FLOPs
and bytes stay the same, to prove that regression detection and the roofline
classification catch a real slowdown. Off unless asked for.

    roofwatch-engine run mlp --inject compute:fc2:2.0 --inject bandwidth:relu1:3

Each spec is KIND:LAYER:FACTOR (repeatable, one per kind and layer):

- compute:LAYER:FACTOR — after the layer's kernel, do (FACTOR-1) x the layer's
  FLOPs more arithmetic as float32 GEMMs on small cache-resident matrices, so
  the extra work is compute-bound. It adds about (FACTOR-1) x the layer's time
  when the layer itself runs near the GEMM peak, less when it runs below it.
- bandwidth:LAYER:FACTOR — after the layer's kernel, read (FACTOR-1) x the
  layer's bytes from a 256 MiB buffer, far larger than the last-level cache,
  walking through it so every read comes from memory: memory-bound extra work.

The extra work runs inside the layer's timed window and in the untimed
end-to-end passes alike. FACTOR is a number > 1 and <= MAX_FACTOR. The report
records the specs only under config.inject (e.g. ["compute:fc2:2.0"]); the
layer's flops and bytes are those of the op, never the injected work.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("compute", "bandwidth")
MAX_FACTOR = 100.0
GEMM_N = 256  # 3 x 256 KiB float32 matrices: cache-resident, and sgemm runs near peak at this size
STREAM_BYTES = 256 * 2**20

Kernel = Callable[[Sequence[np.ndarray], dict], tuple[np.ndarray, ...]]


class InjectionError(ValueError):
    """A malformed injection spec, or one naming a layer the graph lacks."""


@dataclass(frozen=True)
class Injection:
    kind: str  # one of KINDS
    layer: str  # node name
    factor: float  # > 1: the layer does factor x its work

    @property
    def spec(self) -> str:
        """The canonical 'kind:layer:factor' form recorded in config.inject."""
        return f"{self.kind}:{self.layer}:{self.factor!r}"


def parse_injection(text: str) -> Injection:
    """'compute:fc2:2' -> Injection('compute', 'fc2', 2.0). The layer name may
    itself contain ':' (the kind is the first field, the factor the last)."""
    kind, sep, rest = text.partition(":")
    layer, sep2, factor_text = rest.rpartition(":")
    if not sep or not sep2 or not layer:
        raise InjectionError(f"injection {text!r}: expected KIND:LAYER:FACTOR, e.g. compute:fc2:2.0")
    if kind not in KINDS:
        raise InjectionError(f"injection {text!r}: kind must be {' or '.join(KINDS)}, got {kind!r}")
    try:
        factor = float(factor_text)
    except ValueError:
        raise InjectionError(f"injection {text!r}: factor must be a number, got {factor_text!r}") from None
    if not (math.isfinite(factor) and 1.0 < factor <= MAX_FACTOR):
        raise InjectionError(f"injection {text!r}: factor must be > 1 and <= {MAX_FACTOR:g}, got {factor_text}")
    return Injection(kind, layer, factor)


def parse_injections(items: Iterable[str | Injection]) -> list[Injection]:
    """Parse specs (or pass Injections through); one injection per kind and layer."""
    out: list[Injection] = []
    for item in items:
        inj = item if isinstance(item, Injection) else parse_injection(item)
        if any((o.kind, o.layer) == (inj.kind, inj.layer) for o in out):
            raise InjectionError(f"injection {inj.spec!r}: a {inj.kind} injection on {inj.layer!r} is given twice")
        out.append(inj)
    return out


def check_layers(injections: Sequence[Injection], layer_names: Sequence[str]) -> None:
    known = set(layer_names)
    for inj in injections:
        if inj.layer not in known:
            raise InjectionError(
                f"injection {inj.spec!r}: the graph has no layer {inj.layer!r}; "
                f"its layers are {', '.join(layer_names)}"
            )


class ComputeBurner:
    """Does `flops` float32 FLOPs as GEMMs on cache-resident matrices: whole
    GEMM_N^3 products, then one GEMM of fewer rows for the remainder (FLOP
    count exact to within 2*GEMM_N^2)."""

    def __init__(self, flops: int, n: int = GEMM_N) -> None:
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((n, n), dtype=np.float32)
        self.b = rng.standard_normal((n, n), dtype=np.float32)
        self.c = np.empty((n, n), dtype=np.float32)  # outputs are overwritten, so values stay bounded
        self.full, rest = divmod(int(flops), 2 * n**3)
        self.rows = min(n, round(rest / (2 * n * n)))
        self.flops = 2 * n**3 * self.full + 2 * n * n * self.rows

    def __call__(self) -> None:
        a, b, c = self.a, self.b, self.c
        for _ in range(self.full):
            np.matmul(a, b, out=c)
        if self.rows:
            np.matmul(a[: self.rows], b, out=c[: self.rows])


class MemoryStreamer:
    """Reads `nbytes` per call from a buffer much larger than the last-level
    cache, resuming where the previous call stopped, so nothing read is still
    cached when it is read again."""

    def __init__(self, nbytes: int, buffer: np.ndarray) -> None:
        self.buffer = buffer
        self.elements = max(1, int(nbytes) // buffer.itemsize)
        self.nbytes = self.elements * buffer.itemsize
        self.offset = 0

    def __call__(self) -> None:
        buf, size = self.buffer, self.buffer.size
        left, off = self.elements, self.offset
        while left:
            k = min(left, size - off)
            np.add.reduce(buf[off: off + k])
            left -= k
            off = (off + k) % size
        self.offset = off


def stream_buffer(nbytes: int = STREAM_BYTES) -> np.ndarray:
    buf = np.empty(nbytes // 4, dtype=np.float32)
    buf.fill(1.0)  # touch every page now, not inside a timed layer
    return buf


def extra_work(inj: Injection, flops: int, nbytes: int, buffer: Callable[[], np.ndarray]) -> Callable[[], None]:
    """The work that makes layer `inj.layer` (with nominal `flops` and `nbytes`)
    do `inj.factor` x its work. `buffer` supplies the shared stream buffer."""
    if inj.kind == "compute":
        if flops <= 0:
            raise InjectionError(f"injection {inj.spec!r}: layer {inj.layer!r} does no FLOPs; "
                                 "inject bandwidth instead")
        return ComputeBurner(round((inj.factor - 1.0) * flops))
    if nbytes <= 0:
        raise InjectionError(f"injection {inj.spec!r}: layer {inj.layer!r} moves no bytes")
    return MemoryStreamer(round((inj.factor - 1.0) * nbytes), buffer())


def with_extra_work(kernel: Kernel, work: Sequence[Callable[[], None]]) -> Kernel:
    """`kernel` followed by `work`, as one kernel (so it lands in the layer's time)."""
    def injected(args: Sequence[np.ndarray], attrs: dict) -> tuple[np.ndarray, ...]:
        outs = kernel(args, attrs)
        for w in work:
            w()
        return outs

    return injected


__all__ = ["KINDS", "MAX_FACTOR", "ComputeBurner", "Injection", "InjectionError", "MemoryStreamer",
           "check_layers", "extra_work", "parse_injection", "parse_injections", "stream_buffer",
           "with_extra_work"]
