import os
import socket
import uuid

import pytest

from engine.report import Benchmark, Config, Layer, Machine, Report, Source, TimeStats

from .ingest_server import GOOD_TOKEN, IngestServer


@pytest.fixture
def ingest():
    server = IngestServer().start()
    yield server
    server.stop()


@pytest.fixture
def dead_server_url():
    """A URL where nothing listens: connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def token():
    return GOOD_TOKEN


@pytest.fixture
def unwritable_dir(tmp_path):
    """A spool path the process cannot create or write. chmod does not stop
    root, so as root the path goes under a regular file instead."""
    if os.geteuid() == 0:
        afile = tmp_path / "afile"
        afile.write_text("not a directory")
        yield afile / "spool"
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    yield locked / "spool"
    locked.chmod(0o700)


def make_report(key: str | None = None, model: str = "mlp-test") -> str:
    t = TimeStats(median=0.002, p25=0.0019, p75=0.0021, min=0.0018, n=5)
    report = Report(
        idempotency_key=key or str(uuid.uuid4()),
        machine=Machine(
            fingerprint="f" * 16, hostname="host", cpu_model="cpu", cores=2, memory_bytes=1 << 30,
            os="Linux", python="3.11", numpy="2.0", blas="openblas", peak_gflops=100.0, peak_gbs=20.0,
        ),
        benchmark=Benchmark(model=model, model_version="v1", params={"batch": 8}),
        config=Config(),
        source=Source(),
        started_at="2025-01-01T00:00:00+00:00",
        warmup=1,
        repeats=5,
        end_to_end=t,
        layers=[
            Layer(name="fc1", op="Gemm", index=0, sources=["fc1"], flops=1000, bytes=400, time=t,
                  gflops=0.5, gbs=0.2, ai=2.5, bound="bandwidth"),
        ],
    )
    return report.to_json()


@pytest.fixture(scope="session")
def engine_cache_dir(tmp_path_factory):
    """One peaks cache for the session: the engine measures this machine's roofline once."""
    return tmp_path_factory.mktemp("engine-cache")


@pytest.fixture
def engine_env(engine_cache_dir, monkeypatch):
    """Environment for real engine subprocesses (they inherit os.environ)."""
    monkeypatch.setenv("ROOFWATCH_CACHE_DIR", str(engine_cache_dir))
    return engine_cache_dir


ENGINE_MODEL = "mlp"  # the smallest model the engine ships
QUICK_RUN = ["--batch", "8", "--repeats", "2", "--warmup", "1"]
