"""Prints the engine's Linear (GEMM + bias) kernel as a share of this machine's
measured peak GFLOP/s at large sizes. Goal: >= 85%.

    .venv/bin/python benchmarks/gemm_roof.py [--threads N] [--repeats N]
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from engine.ops.linear import Linear
from engine.roofline import measure_peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        peaks = measure_peaks()
        print(f"measured peak {peaks.gflops:.1f} GFLOP/s (threads: {args.threads or 'all'})")
        rng = np.random.default_rng(0)
        for n in (512, 1024, 2048):
            x = rng.standard_normal((n, n), dtype=np.float32)
            w = rng.standard_normal((n, n), dtype=np.float32)
            b = rng.standard_normal(n, dtype=np.float32)
            Linear.run([x, w, b], {})  # warm-up
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                Linear.run([x, w, b], {})
                times.append(time.perf_counter() - start)
            gflops = Linear.flops([(n, n), (n, n), (n,)], {}) / float(np.median(times)) / 1e9
            print(f"Linear {n}x{n}x{n}: {gflops:7.1f} GFLOP/s = {100 * gflops / peaks.gflops:5.1f}% of peak")


if __name__ == "__main__":
    main()
