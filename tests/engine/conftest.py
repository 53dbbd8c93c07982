"""Engine test fixtures: peaks are never measured for real here unless a
test asks for it, and the peaks cache always lives in the test's tmp dir."""
import pytest

from engine import roofline
from engine.ops import embedding_kernels
from engine.roofline import Peaks

FAKE_GFLOPS = 100.0
FAKE_GBS = 10.0
FAKE_GATHER = {64: 2.0, 256: 5.0}


@pytest.fixture(autouse=True)
def peaks_cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "roofwatch-cache"
    monkeypatch.setenv(roofline.CACHE_ENV, str(path))
    return path


class ProbeCounter:
    def __init__(self) -> None:
        self.gemm = 0
        self.copy = 0
        self.gather = 0

    def fake_gemm(self, *args, **kwargs) -> float:
        self.gemm += 1
        return FAKE_GFLOPS

    def fake_copy(self, *args, **kwargs) -> float:
        self.copy += 1
        return FAKE_GBS

    def fake_gather(self, *args, **kwargs) -> dict[int, float]:
        self.gather += 1
        return dict(FAKE_GATHER)


@pytest.fixture
def probes(monkeypatch) -> ProbeCounter:
    """Replace the (seconds-long) peak probes with instant fakes that count calls."""
    counter = ProbeCounter()
    monkeypatch.setattr(roofline, "measure_gemm_gflops", counter.fake_gemm)
    monkeypatch.setattr(roofline, "measure_copy_gbs", counter.fake_copy)
    monkeypatch.setattr(roofline.gather_roof, "measure_gather_gbs", counter.fake_gather)
    return counter


@pytest.fixture
def peaks() -> Peaks:
    return Peaks(gflops=FAKE_GFLOPS, gbs=FAKE_GBS)  # ridge point 10 FLOP/byte


@pytest.fixture(params=["numba", "numpy"])
def path(request, monkeypatch):
    """Runs an embedding test on the compiled kernel and on the numpy fallback."""
    if request.param == "numba" and not embedding_kernels.AVAILABLE:
        pytest.skip("numba is not installed")
    if request.param == "numpy":
        monkeypatch.setattr(embedding_kernels, "AVAILABLE", False)
    return request.param
