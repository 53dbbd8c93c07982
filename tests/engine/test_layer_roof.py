"""Each layer is judged against the roofs its kernel can reach: the threads it
really runs on, the gather roof for random rows, and its own traffic beside
the minimum (engine.layer_roof, Op.threads/gathered/kernel_bytes)."""
import numpy as np
import pytest

from engine import benchmark, roofline
from engine.executor import make_plan
from engine.ir import Graph, Node, TensorSpec
from engine.layer_roof import beats_measured_roof, fraction_of_roof, layer_roof, peaks_for
from engine.machine import Peaks
from engine.ops import EmbeddingBag, get_op
from engine.ops import embedding_kernels
from engine.profile import profile
from engine.report import Layer, TimeStats

ONE = Peaks(gflops=50.0, gbs=20.0, gather={64: 2.0, 256: 5.0}, threads=1)
TWO = Peaks(gflops=100.0, gbs=30.0, gather={64: 3.0, 256: 8.0}, threads=2)
ROOFS = {1: ONE, 2: TWO}


def lookup_graph(rows: int, dim: int, ids: int, batch: int) -> tuple[Graph, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((rows, dim), dtype=np.float32)
    graph = Graph(
        name="lookup",
        inputs=[TensorSpec("ids", "int64", (ids,)), TensorSpec("offsets", "int64", (batch,)),
                TensorSpec("x", "float32", (batch, dim))],
        outputs=["y"],
        nodes=[Node("emb", "EmbeddingBag", ["w", "ids", "offsets"], ["pooled"]),
               Node("relu", "Relu", ["x"], ["r"]),
               Node("fc", "Linear", ["r", "fcw"], ["h"]),
               Node("add", "Add", ["pooled", "h"], ["y"])],
        initializers={"w": weight, "fcw": rng.standard_normal((dim, dim), dtype=np.float32)},
    )
    inputs = {"ids": rng.integers(0, rows, ids, dtype=np.int64),
              "offsets": np.arange(0, ids, ids // batch, dtype=np.int64)[:batch],
              "x": rng.standard_normal((batch, dim), dtype=np.float32)}
    return graph, inputs


def test_single_threaded_kernels_get_the_one_thread_roofs_and_blas_the_limits(monkeypatch):
    graph, inputs = lookup_graph(rows=1000, dim=64, ids=512, batch=256)
    monkeypatch.setattr(roofline, "blas_threads", lambda: 2)
    monkeypatch.setattr("engine.profile.blas_threads", lambda: 2)
    layers = {ly.name: ly for ly in profile(graph, inputs, warmup=0, repeats=1, peaks=TWO, roofs=ROOFS).layers}
    assert (layers["relu"].threads, layers["relu"].roof_gflops, layers["relu"].roof_gbs) == (1, 50.0, 20.0)
    assert (layers["fc"].threads, layers["fc"].roof_gflops, layers["fc"].roof_gbs) == (2, 100.0, 30.0)
    assert layers["emb"].threads == 1  # 512 ids: too few to split (embedding_kernels.MIN_IDS_PER_THREAD)
    assert layers["relu"].roof == layers["fc"].roof == "stream"


def test_a_lookup_is_judged_against_the_gather_roof_at_its_row_size():
    shapes = [(1000, 64), (512,), (256,)]  # 256-byte rows
    dtypes = ["float32", "int64", "int64", "float32"]
    nbytes = EmbeddingBag.bytes(shapes, [(256, 64)], dtypes)
    gathered = 512 * 256
    roof = layer_roof(EmbeddingBag, shapes, dtypes, {"mode": "sum"}, nbytes, 1, ROOFS)
    assert roof.kind == "gather"
    # the rows at 5 GB/s (the 256-byte gather roof), the ids, offsets and output at the stream roof
    assert roof.gbs == pytest.approx(nbytes / (gathered / 5.0 + (nbytes - gathered) / 20.0))
    assert roof.gbs < ONE.gbs
    # between measured row sizes the roof is interpolated: 160-byte rows, (2 + 5) / 2
    mid = layer_roof(EmbeddingBag, [(1000, 40), (512,), (256,)], dtypes, {}, 512 * 160, 1, ROOFS)
    assert mid.gbs == pytest.approx(3.5)
    # without a measured gather roof (old or fake peaks) all bytes stream
    plain = layer_roof(EmbeddingBag, shapes, dtypes, {}, nbytes, 1, {1: Peaks(50.0, 20.0)})
    assert (plain.kind, plain.gbs) == ("stream", 20.0)


def test_a_gather_along_axis_zero_reads_rows_and_along_another_axis_streams():
    gather = get_op("Gather")
    assert gather.gathered([(1000, 32), (7,)], ["float32", "int64", "float32"], {"axis": 0}) == [(128, 7 * 128)]
    assert gather.gathered([(1000, 32), (7,)], ["float32", "int64", "float32"], {"axis": 1}) == []


def test_a_lookup_is_judged_at_the_threads_its_path_splits_it_over(monkeypatch):
    many = 4 * embedding_kernels.MIN_IDS_PER_THREAD
    big, small = [(10, 8), (many,), (1024,)], [(10, 8), (100,), (10,)]
    grouped, halves = get_op("GroupedEmbeddingBag"), [(10, 8), (many // 2,), (512,)] * 2
    monkeypatch.setattr(embedding_kernels, "AVAILABLE", True)  # the compiled kernel splits big lookups
    assert EmbeddingBag.threads(big, {}, 2) == 2 and grouped.threads(halves, {}, 2) == 2
    assert EmbeddingBag.threads(small, {}, 2) == 1
    monkeypatch.setattr(embedding_kernels, "AVAILABLE", False)  # numpy's take runs on one thread
    assert EmbeddingBag.threads(big, {}, 2) == 1 and grouped.threads(halves, {}, 2) == 1


def test_the_roof_of_a_thread_count_not_measured_is_the_next_measured_above_it():
    assert peaks_for(ROOFS, 1) is ONE and peaks_for(ROOFS, 2) is TWO
    assert peaks_for({1: ONE, 4: TWO}, 3) is TWO
    assert peaks_for({1: ONE}, 8) is ONE
    with pytest.raises(ValueError, match="no roofs"):
        peaks_for({}, 1)


@pytest.mark.parametrize("op_type,shapes,dtypes,attrs,extra", [
    # a 3x3 conv with padding: the padded image copy (rows 4 + 1 apart, 6 + 1 spare rows), the columns
    # (4 output rows of 5) and the GEMM outputs before the copy out, each written and read
    ("Conv", [(1, 2, 4, 4), (3, 2, 3, 3)], ["float32"] * 3, {"pads": [1, 1, 1, 1]},
     2 * 4 * (1 * 2 * 7 * 5) + 2 * 4 * (1 * 2 * 3 * 3 * 4 * 5) + 2 * 4 * (1 * 3 * 4 * 5)),
    # the integer GEMM (numba present, as in CI): a dynamic scale's extra read of x, its uint8 parts
    # A and R written and read, and the int32 accumulator written and read
    ("Int8Linear", [(8, 16), (16, 4), (4,)], ["float32", "int8", "float32", "float32"], {},
     4 * 8 * 16 + 2 * 2 * 8 * 16 + 2 * 4 * 8 * 4),
    ("Fp16Linear", [(8, 16), (16, 4)], ["float32", "float16", "float32"], {}, 2 * 4 * 16 * 4),
])
def test_kernels_that_move_more_than_the_minimum_say_how_much(op_type, shapes, dtypes, attrs, extra):
    op = get_op(op_type)
    attrs = op.resolve_attrs(attrs)
    out = op.infer_shape(shapes, attrs)
    minimum = op.bytes(shapes, out, dtypes)
    assert op.kernel_bytes(shapes, out, dtypes, attrs) == minimum + extra


def test_a_one_by_one_conv_and_a_plain_linear_move_just_the_minimum():
    conv, linear = get_op("Conv"), get_op("Linear")
    shapes = [(1, 2, 4, 4), (3, 2, 1, 1)]
    assert conv.kernel_bytes(shapes, conv.infer_shape(shapes, conv.resolve_attrs({})), ["float32"] * 3,
                             conv.resolve_attrs({})) is None
    assert linear.kernel_bytes([(8, 16), (16, 4)], [(8, 4)], ["float32"] * 3, {}) is None


def test_attention_counts_its_materialized_scores():
    mha = get_op("MultiHeadAttention")
    b, s, e, h = 2, 5, 8, 2
    shapes = [(b, s, e)] + [(e, e), (e,)] * 4
    attrs = mha.resolve_attrs({"num_heads": h})
    out = mha.infer_shape(shapes, attrs)
    dtypes = ["float32"] * (len(shapes) + 1)
    extra = mha.kernel_bytes(shapes, out, dtypes, attrs) - mha.bytes(shapes, out, dtypes)
    assert extra == 4 * (18 * b * s * e + 10 * b * h * s * s)


def layer(**fields) -> Layer:
    base = dict(name="l", op="Relu", index=0, sources=["l"], flops=0, bytes=1000, time=TimeStats(1, 1, 1, 1, 1),
                gflops=0.0, gbs=10.0, ai=0.0, bound="bandwidth", threads=1, roof="stream", roof_gflops=50.0,
                roof_gbs=20.0)
    return Layer(**{**base, **fields})


def test_only_a_layer_that_cannot_be_in_cache_and_beats_its_roof_calls_for_remeasurement():
    cache = 32 << 20
    assert fraction_of_roof(layer()) == pytest.approx(0.5)
    assert not beats_measured_roof(layer(gbs=40.0), cache)  # small: its data may still be in cache
    assert beats_measured_roof(layer(gbs=40.0, bytes=3 * cache), cache)  # too big for any cache
    assert not beats_measured_roof(layer(gbs=19.0, bytes=3 * cache), cache)
    # a compute-bound layer above the GEMM peak: no cache explains that
    assert beats_measured_roof(layer(flops=10**9, ai=100.0, gflops=60.0, bound="compute"), cache)
    assert fraction_of_roof(layer(roof_gflops=None)) is None


def test_a_run_whose_layer_beats_its_roof_remeasures_the_peaks_and_judges_again(monkeypatch, probes):
    """The first GEMM peak is measured absurdly low, so the Linear layers beat
    it: the run measures again (keeping the best) and judges its layers
    against the new roofs."""
    gemm = iter([1e-6, 1e6])
    monkeypatch.setattr(roofline, "measure_gemm_gflops", lambda *a, **k: next(gemm))
    report = benchmark.run_benchmark("mlp", {"batch": 8}, benchmark.RunOptions(warmup=1, repeats=2, threads=1)).report
    assert report.machine.peak_gflops == 1e6
    assert [(r.threads, r.gflops) for r in report.machine.roofs] == [(1, 1e6)]
    assert {ly.roof_gflops for ly in report.layers} == {1e6}
    assert not any(beats_measured_roof(ly, 32 << 20) for ly in report.layers)
