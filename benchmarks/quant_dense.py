"""Prints the dense quantized kernels' time and weight memory against the fp32
Linear at the MLP shapes of the zoo (mlp, DLRM bottom and top MLPs), batch
256. No speed goal: on a CPU without an int8 GEMM in numpy the int8 path
runs a float32 GEMM on integer values (exact, engine/ops/quantized.py) and
pays for quantizing x and upcasting the weight; this reports what that costs.

Each layer's variants run interleaved (fp32, fp16, int8, int8 unsigned,
int8-outlier, ...) in every round; times are medians over the rounds. A ratio
above 1 means slower than fp32.

    .venv/bin/python benchmarks/quant_dense.py [--batch 256] [--repeats 15] [--threads N] [--kernels]

--kernels adds the measurement behind the int32 accumulation kernel choice
(engine/ops/quantized.py): a numba int8 x int8 -> int32 loop against the
exact K-chunked float32 GEMM (int_matmul) and the plain fp32 GEMM.
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from engine.models.dlrm import BOTTOM_MLP, TOP_HIDDEN
from engine.ops.linear import Linear
from engine.ops.quantized import Fp16Linear, Int8Linear, Int8OutlierLinear, int_matmul
from engine.quant.numeric import quantize_weight, to_fp16
from engine.quant.outlier import split_outliers

MLP = (512, 1024, 1024, 512, 256)  # engine.models.mlp default sizes
DLRM_TOP = (415, *TOP_HIDDEN)  # 64 + 27*26/2 interaction features


def layers() -> list[tuple[str, int, int, bool]]:
    """(label, K, N, input is non-negative) for every Linear of the three MLPs."""
    out = []
    for name, sizes in (("mlp", MLP), ("dlrm.bot", BOTTOM_MLP), ("dlrm.top", DLRM_TOP)):
        for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:])):
            out.append((f"{name}.fc{i + 1}", k, n, i > 0))  # after the first, inputs come out of a Relu
    return out


def variants(x: np.ndarray, w: np.ndarray, b: np.ndarray, nonneg: bool) -> dict[str, tuple]:
    split = split_outliers(w)
    v = {
        "fp32": (Linear, [x, w, b], {}, w.nbytes),
        "fp16": (Fp16Linear, [x, to_fp16(w), b], {}, w.nbytes // 2),
    }
    wq, sc = quantize_weight(w)
    v["int8"] = (Int8Linear, [x, wq, sc, b], {}, wq.nbytes + sc.nbytes)
    v["int8 static"] = (Int8Linear, [x, wq, sc, b], {"act_amax": float(np.abs(x).max())}, wq.nbytes + sc.nbytes)
    if nonneg:
        v["int8 unsigned"] = (Int8Linear, [x, wq, sc, b], {"act_unsigned": True}, wq.nbytes + sc.nbytes)
    outl = [x, split.weight, split.scale, split.values, split.indices, split.indptr, b]
    v["int8-outlier"] = (Int8OutlierLinear, outl, {"act_unsigned": nonneg},
                         sum(a.nbytes for a in outl[1:6]))
    return v


def kernel_choice(batch: int, repeats: int) -> None:
    import numba

    @numba.njit(cache=False)
    def int8_gemm(xq, wq):  # the straightforward int32-accumulating loop, vectorized over N by LLVM
        acc = np.zeros((xq.shape[0], wq.shape[1]), np.int32)
        for i in range(xq.shape[0]):
            for k in range(xq.shape[1]):
                a = np.int32(xq[i, k])
                for j in range(wq.shape[1]):
                    acc[i, j] += a * np.int32(wq[k, j])
        return acc

    rng = np.random.default_rng(1)
    print("\nint32 accumulation kernels (median us):")
    for k, n in ((1024, 1024), (512, 256)):
        xq8 = rng.integers(-127, 128, (batch, k)).astype(np.int8)
        wq = rng.integers(-127, 128, (k, n)).astype(np.int8)
        xf, wf = xq8.astype(np.float32), wq.astype(np.float32)
        if not np.array_equal(int8_gemm(xq8, wq), int_matmul(xf, wq, 127).astype(np.int32)):
            raise SystemExit("numba and chunked-sgemm accumulators disagree")
        runs = {"numba int8 loop": lambda: int8_gemm(xq8, wq), "chunked sgemm": lambda: int_matmul(xf, wq, 127),
                "fp32 sgemm": lambda: xf @ wf}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        med = {name: float(np.median(t)) for name, t in times.items()}
        print(f"  {batch}x{k}x{n}: " + ", ".join(f"{name} {t * 1e6:.0f}" for name, t in med.items())
              + f"; numba / chunked {med['numba int8 loop'] / med['chunked sgemm']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--kernels", action="store_true", help="also time the int32 accumulation kernel options")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    totals: dict[str, float] = {}
    mem: dict[str, int] = {}
    with threadpool_limits(args.threads):
        print(f"batch {args.batch}, threads {args.threads or 'all'}, median of {args.repeats} interleaved rounds")
        print(f"{'layer':14} {'K x N':>11} {'fp32 us':>9}  time ratio vs fp32 (weight bytes ratio)")
        for label, k, n, nonneg in layers():
            x = rng.standard_normal((args.batch, k), dtype=np.float32)
            if nonneg:
                np.maximum(x, 0, out=x)
            w = rng.standard_normal((k, n), dtype=np.float32) * np.float32(np.sqrt(2 / k))
            b = rng.uniform(-0.1, 0.1, n).astype(np.float32)
            v = variants(x, w, b, nonneg)
            times: dict[str, list[float]] = {name: [] for name in v}
            for name, (op, inputs, attrs, _) in v.items():  # warm-up
                op.run(inputs, attrs)
            for _ in range(args.repeats):
                for name, (op, inputs, attrs, _) in v.items():
                    start = time.perf_counter()
                    op.run(inputs, attrs)
                    times[name].append(time.perf_counter() - start)
            med = {name: float(np.median(t)) for name, t in times.items()}
            cells = []
            for name, (_, _, _, nbytes) in v.items():
                totals[name] = totals.get(name, 0.0) + med[name]
                mem[name] = mem.get(name, 0) + nbytes
                if name != "fp32":
                    cells.append(f"{name} {med[name] / med['fp32']:.2f}x ({nbytes / v['fp32'][3]:.3f})")
            print(f"{label:14} {f'{k}x{n}':>11} {med['fp32'] * 1e6:9.0f}  " + ", ".join(cells))
        print("\nwhole-MLP sums over the layers above (variants every layer has):")
        for name in ("fp16", "int8", "int8 static", "int8-outlier"):
            print(f"  {name:13} time {totals[name] / totals['fp32']:.2f}x fp32, weights {mem[name] / mem['fp32']:.3f}x fp32 bytes")
        if args.kernels:
            kernel_choice(args.batch, args.repeats)


if __name__ == "__main__":
    main()
