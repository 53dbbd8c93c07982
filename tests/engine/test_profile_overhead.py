"""The profiler alternates timed and plain passes; end-to-end latency comes
from the plain ones and the overhead compares the two."""
import numpy as np
import pytest

from engine.ir import Graph, GraphError, Node, TensorSpec
from engine.models import build_model
from engine.ops import OPS, Op
from engine.profile import profile

LOG: list[str] = []


class Spy(Op):
    """Identity that logs each kernel call as 'k'."""

    op_type = "Spy"

    @classmethod
    def infer_shape(cls, input_shapes, attrs, names=None):
        return (tuple(input_shapes[0]),)

    @classmethod
    def run(cls, inputs, attrs):
        LOG.append("k")
        return (inputs[0] + 1,)

    @classmethod
    def flops(cls, input_shapes, attrs):
        return 1


class TickClock:
    """Logs each read as 'c' and advances by 1 ns per read."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        LOG.append("c")
        self.now += 1
        return self.now


@pytest.fixture
def spy_graph(monkeypatch):
    monkeypatch.setitem(OPS, "Spy", Spy)
    LOG.clear()
    return Graph(
        name="spy",
        inputs=(TensorSpec("x", "float32", (4,)),),
        initializers={},
        nodes=(Node("a", "Spy", ("x",), ("h",)), Node("b", "Spy", ("h",), ("y",))),
        outputs=("y",),
    )


TIMED = "c" + "ckc" * 2 + "c"  # pass start, clock around each of the 2 kernels, pass end
PLAIN = "c" + "kk" + "c"  # no clock between kernels


def test_timed_and_plain_passes_alternate_warmup_included(spy_graph, peaks):
    profile(spy_graph, {"x": np.zeros(4, np.float32)}, warmup=2, repeats=3, peaks=peaks, clock=TickClock(),
            settle=0)
    assert "".join(LOG) == (TIMED + PLAIN) * 5


def test_end_to_end_comes_from_the_plain_passes_and_overhead_from_both(spy_graph, peaks):
    result = profile(spy_graph, {"x": np.zeros(4, np.float32)}, warmup=1, repeats=4, peaks=peaks,
                     clock=TickClock(), settle=0)
    # With one tick per clock read a plain pass lasts 1 ns, a timed pass 5 ns, each node 1 ns.
    assert result.end_to_end.median == pytest.approx(1e-9) and result.end_to_end.n == 4
    assert result.timed_end_to_end.median == pytest.approx(5e-9) and result.timed_end_to_end.n == 4
    assert result.profiler_overhead == pytest.approx(4.0)
    assert [ly.time.median for ly in result.layers] == pytest.approx([1e-9, 1e-9])
    assert all(ly.time.n == 4 for ly in result.layers)
    np.testing.assert_array_equal(result.outputs["y"], np.full(4, 2, np.float32))


def test_a_real_run_reports_a_small_overhead_and_n_equal_to_repeats(peaks):
    model = build_model("mlp", batch=16, sizes=[64, 128, 64])
    result = profile(model.graph, model.make_inputs(0), warmup=2, repeats=21, peaks=peaks)
    assert isinstance(result.profiler_overhead, float)
    assert -0.5 < result.profiler_overhead < 2.0  # behaviour, not a speed goal: timing noise is allowed
    assert result.end_to_end.n == result.timed_end_to_end.n == 21
    assert all(ly.time.n == 21 for ly in result.layers)


class Boom(Spy):
    op_type = "Boom"

    @classmethod
    def run(cls, inputs, attrs):
        raise ValueError("index 9 is out of range for a table of 4 rows")


def test_a_kernel_error_names_the_node_and_its_inputs(spy_graph, peaks, monkeypatch):
    monkeypatch.setitem(OPS, "Boom", Boom)
    graph = Graph(name="boom", inputs=spy_graph.inputs, initializers={},
                  nodes=(Node("a", "Spy", ("x",), ("h",)), Node("lookup", "Boom", ("h",), ("y",))),
                  outputs=("y",))
    with pytest.raises(GraphError, match=r"node 'lookup' \(Boom\) reading h: index 9 is out of range"):
        profile(graph, {"x": np.zeros(4, np.float32)}, warmup=0, repeats=1, peaks=peaks)
