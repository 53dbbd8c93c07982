"""Fault injection makes a layer genuinely slower while its nominal FLOPs and
bytes stay put; the report records it under config.inject only."""
import json

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from engine.benchmark import RunOptions, run_benchmark
from engine.cli import build_parser, main
from engine.inject import (ComputeBurner, Injection, InjectionError, MemoryStreamer, extra_work,
                           parse_injection, parse_injections)
from engine.ir import Graph, Node, TensorSpec
from engine.profile import profile
from engine.report import Report

SMALL = ["--batch", "4", "--param", "sizes=32,64,16", "--warmup", "1", "--repeats", "2"]


def linear_relu_graph(m: int, k: int, n: int) -> tuple[Graph, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    graph = Graph(
        name="lr",
        inputs=(TensorSpec("x", "float32", (m, k)),),
        initializers={"w": rng.standard_normal((k, n), dtype=np.float32) / np.float32(np.sqrt(k))},
        nodes=(Node("fc", "Linear", ("x", "w"), ("h",)), Node("relu", "Relu", ("h",), ("y",))),
        outputs=("y",),
    )
    return graph, {"x": rng.standard_normal((m, k), dtype=np.float32)}


def side_by_side(graph, inputs, peaks, injections, rounds=3):
    """Profiles without and with `injections`, alternating `rounds` times.
    Returns, for each, its last result and the lowest median of each layer
    and of the end to end over the rounds (the round least disturbed by other work on a shared
    machine). One BLAS thread, so a busy neighbour core cannot stall a GEMM's
    second thread."""
    kw = dict(warmup=3, repeats=5, peaks=peaks)
    base, slow = [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(rounds):
            base.append(profile(graph, inputs, **kw))
            slow.append(profile(graph, inputs, inject=injections, **kw))

    def lowest(results):  # per layer, then end to end
        return [min(r.layers[i].time.median for r in results) for i in range(len(graph.nodes))] + \
               [min(r.end_to_end.median for r in results)]

    return base[-1], lowest(base), slow[-1], lowest(slow)


def assert_counts_unchanged(base, slow):
    assert [(ly.name, ly.flops, ly.bytes, ly.ai) for ly in slow.layers] == \
           [(ly.name, ly.flops, ly.bytes, ly.ai) for ly in base.layers]


def test_compute_injection_makes_a_big_linear_slower_with_the_same_flops(peaks):
    graph, inputs = linear_relu_graph(256, 512, 1024)
    base, base_s, slow, slow_s = side_by_side(graph, inputs, peaks, [parse_injection("compute:fc:3")])
    assert slow_s[0] > 1.5 * base_s[0]  # 3x expected; loose for noise
    assert slow_s[-1] > base_s[-1]  # the untimed end-to-end passes pay for it too
    assert_counts_unchanged(base, slow)
    np.testing.assert_array_equal(slow.outputs["y"], base.outputs["y"])


def test_bandwidth_injection_makes_a_relu_slower_with_the_same_bytes(peaks):
    graph, inputs = linear_relu_graph(1024, 64, 1024)  # relu over 1M floats: 8 MB of traffic
    base, base_s, slow, slow_s = side_by_side(graph, inputs, peaks, [parse_injection("bandwidth:relu:4")])
    assert slow_s[1] > 1.5 * base_s[1]  # about 3.5x expected
    assert slow.layers[1].bytes / slow_s[1] < base.layers[1].bytes / base_s[1]  # achieved GB/s falls
    assert slow_s[-1] > base_s[-1]
    assert_counts_unchanged(base, slow)


def test_the_compute_burner_does_the_asked_flops_to_within_one_row():
    for flops in (1, 2 * 16**3 - 5, 10 * 2 * 16**3 + 7 * 2 * 16 * 16 + 3):
        burner = ComputeBurner(flops, n=16)
        assert abs(burner.flops - flops) <= 2 * 16 * 16
        burner()
    assert (ComputeBurner(3 * 2 * 16**3, n=16).full, ComputeBurner(3 * 2 * 16**3, n=16).rows) == (3, 0)


def test_the_streamer_walks_on_through_its_buffer_and_wraps():
    buf = np.ones(10, np.float32)
    streamer = MemoryStreamer(7 * 4, buf)
    assert streamer.nbytes == 28
    streamer()
    assert streamer.offset == 7
    streamer()
    assert streamer.offset == 4  # 7 + 7 wrapped over 10
    big = MemoryStreamer(25 * 4, buf)  # more than the buffer in one call
    big()
    assert big.offset == 5


def test_injections_need_work_to_multiply():
    with pytest.raises(InjectionError, match="layer 'r' does no FLOPs; inject bandwidth instead"):
        extra_work(Injection("compute", "r", 2.0), 0, 100, lambda: np.ones(4, np.float32))
    with pytest.raises(InjectionError, match="layer 'r' moves no bytes"):
        extra_work(Injection("bandwidth", "r", 2.0), 100, 0, lambda: np.ones(4, np.float32))


def test_specs_parse_to_a_canonical_form():
    assert parse_injection("compute:fc2:2") == Injection("compute", "fc2", 2.0)
    assert parse_injection("compute:fc2:2").spec == "compute:fc2:2.0"
    assert parse_injection("bandwidth:block:1/relu:1.25").spec == "bandwidth:block:1/relu:1.25"
    assert parse_injection("bandwidth:ns:a:3").layer == "ns:a"


@pytest.mark.parametrize(("text", "message"), [
    ("compute", "expected KIND:LAYER:FACTOR"),
    ("compute:2.0", "expected KIND:LAYER:FACTOR"),
    ("compute::2.0", "expected KIND:LAYER:FACTOR"),
    ("latency:fc1:2", "kind must be compute or bandwidth, got 'latency'"),
    ("compute:fc1:two", "factor must be a number, got 'two'"),
    ("compute:fc1:1", "factor must be > 1 and <= 100, got 1"),
    ("compute:fc1:0.5", "factor must be > 1 and <= 100, got 0.5"),
    ("compute:fc1:nan", "factor must be > 1"),
    ("compute:fc1:inf", "factor must be > 1"),
    ("compute:fc1:1000", "factor must be > 1 and <= 100, got 1000"),
])
def test_bad_specs_are_refused_with_the_reason(text, message):
    with pytest.raises(InjectionError, match=message):
        parse_injection(text)


def test_the_same_kind_on_the_same_layer_twice_is_refused():
    assert len(parse_injections(["compute:fc1:2", "bandwidth:fc1:2"])) == 2
    with pytest.raises(InjectionError, match="a compute injection on 'fc1' is given twice"):
        parse_injections(["compute:fc1:2", "compute:fc1:3"])


def test_an_unknown_layer_is_refused_listing_the_layers(peaks):
    graph, inputs = linear_relu_graph(4, 8, 8)
    with pytest.raises(InjectionError, match=r"graph has no layer 'fc9'; its layers are fc, relu$"):
        profile(graph, inputs, warmup=0, repeats=1, peaks=peaks, inject=[parse_injection("compute:fc9:2")])


def test_the_report_records_injections_only_under_config_inject(probes):
    plain = run_benchmark("mlp", {"batch": 4, "sizes": [32, 64, 16]}, RunOptions(warmup=0, repeats=2)).report
    hit = run_benchmark("mlp", {"batch": 4, "sizes": [32, 64, 16]},
                        RunOptions(warmup=0, repeats=2, inject=["compute:fc2:2", "bandwidth:relu1:1.5"])).report
    assert plain.config.inject == []
    assert hit.config.inject == ["compute:fc2:2.0", "bandwidth:relu1:1.5"]
    assert hit.config.flags == {} and hit.benchmark == plain.benchmark
    assert [(ly.name, ly.flops, ly.bytes) for ly in hit.layers] == [(ly.name, ly.flops, ly.bytes) for ly in plain.layers]
    assert isinstance(hit.profiler_overhead, float)


def test_the_cli_flag_reaches_the_report(probes, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["run", "mlp", *SMALL, "--json", str(out), "--inject", "compute:fc1:2",
                 "--inject", "bandwidth:relu1:3"]) == 0
    assert "INJECTED FAULTS: compute:fc1:2.0, bandwidth:relu1:3.0" in capsys.readouterr().out
    report = Report.from_dict(json.loads(out.read_text()))
    assert report.config.inject == ["compute:fc1:2.0", "bandwidth:relu1:3.0"]


def test_the_cli_refuses_an_unknown_layer_with_exit_2(probes, capsys):
    assert main(["run", "mlp", *SMALL, "--inject", "compute:fc9:2"]) == 2
    assert "the graph has no layer 'fc9'; its layers are fc1, relu1, fc2" in capsys.readouterr().err


def test_the_cli_refuses_a_bad_spec_as_an_argument_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "mlp", "--inject", "compute:fc1:0"])
    assert e.value.code == 2
    assert "argument --inject: injection 'compute:fc1:0': factor must be > 1" in capsys.readouterr().err


def test_run_help_documents_the_flag():
    run_parser = build_parser()._subparsers._group_actions[0].choices["run"]
    text = run_parser.format_help()
    assert "--inject KIND:LAYER:FACTOR" in text and "compute:LAYER:FACTOR" in text
    assert "bandwidth:LAYER:FACTOR" in text
