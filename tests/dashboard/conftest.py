"""A DLRM-like run on a measured machine, created straight through the ORM."""
import hashlib
import uuid
from datetime import datetime, timezone

import pytest

from fleet.models import Machine
from results.canonical import canonical_sha256
from results.models import Benchmark, LayerMeasurement, Project, Run
from tests.report_factory import achieved

PEAK_GFLOPS = 180.0
PEAK_GBS = 23.0  # ridge point 7.83 FLOP/byte

# name, op, FLOPs, bytes, median seconds: DLRM Criteo Kaggle shapes at batch 128.
DLRM_LAYERS = [
    ("bot_mlp.0", "Gemm", 1_703_936, 297_472, 48e-6),
    ("bot_mlp.1", "Gemm", 33_554_432, 918_528, 262e-6),
    ("bot_mlp.2", "Gemm", 4_194_304, 230_656, 41e-6),
    ("emb.fused", "EmbeddingBag", 2_936_832, 11_894_784, 1.42e-3),
    ("interact", "DotInteraction", 2_396_160, 255_104, 35e-6),
    ("top_mlp.0", "Gemm", 48_103_424, 1_270_784, 371e-6),
    ("top_mlp.1", "Gemm", 33_554_432, 918_528, 259e-6),
    ("top_mlp.2", "Gemm", 65_536, 132_608, 9e-6),
    ("sigmoid", "Sigmoid", 128, 1_024, 2e-6),
]


def make_machine(name: str = "epyc-01", peaks: bool = True) -> Machine:
    return Machine.objects.create(
        name=name,
        fingerprint=hashlib.sha256(name.encode()).hexdigest()[:32],
        hostname=f"{name}.fleet",
        cpu_model="AMD EPYC 9R14 (Zen 4)",
        cores=2,
        memory_bytes=8 * 2**30,
        os="Linux 6.8",
        python="3.11.9",
        numpy="2.4.0",
        blas="OpenBLAS 0.3.28",
        peak_gflops=PEAK_GFLOPS if peaks else None,
        peak_gbs=PEAK_GBS if peaks else None,
    )


def make_benchmark(model: str = "dlrm_criteo_kaggle", params: dict | None = None) -> Benchmark:
    params = {"batch_size": 128} if params is None else params
    project, _ = Project.objects.get_or_create(
        name="roofwatch", defaults={"repository_url": "https://github.com/example/roofwatch"}
    )
    return Benchmark.objects.create(project=project, model=model, params=params, params_hash=canonical_sha256(params))


def make_run(
    machine: Machine,
    benchmark: Benchmark,
    layers=DLRM_LAYERS,
    started_at: datetime | None = None,
    commit: str = "3f9c2e1d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e",
    branch: str = "main",
) -> Run:
    started_at = started_at or datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
    total = sum(layer[4] for layer in layers)
    run = Run.objects.create(
        idempotency_key=uuid.uuid4(),
        payload_sha256="0" * 64,
        machine=machine,
        benchmark=benchmark,
        model_version="a1b2c3d4e5f60718",
        config={"passes": ["fold_constants", "fuse_gemm_bias"], "quant": "int8", "threads": 2, "flags": {}},
        config_hash="1" * 64,
        commit=commit,
        branch=branch,
        started_at=started_at,
        warmup=5,
        repeats=50,
        median=total * 1.05,
        p25=total * 1.02,
        p75=total * 1.09,
        min=total,
        n=50,
        peak_gflops=PEAK_GFLOPS,
        peak_gbs=PEAK_GBS,
    )
    ridge = PEAK_GFLOPS / PEAK_GBS
    for index, (name, op, flops, nbytes, median) in enumerate(layers):
        LayerMeasurement.objects.create(
            run=run, machine=machine, benchmark=benchmark, started_at=started_at, name=name, op=op, index=index,
            sources=[name], flops=flops, bytes=nbytes, median=median, p25=median * 0.97, p75=median * 1.04,
            min=median * 0.95, n=50, **achieved(flops, nbytes, median, ridge),
        )
    return run


@pytest.fixture
def machine(db) -> Machine:
    return make_machine()


@pytest.fixture
def benchmark(db) -> Benchmark:
    return make_benchmark()


@pytest.fixture
def run(machine, benchmark) -> Run:
    return make_run(machine, benchmark)


@pytest.fixture
def seeded(db):
    """Two machines x 18 real ingested runs, fc1 3x slower from run 12 on the first; detection run."""
    from .seed import seed_regression

    return seed_regression()
