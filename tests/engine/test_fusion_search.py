import itertools
import json

import numpy as np
import pytest

from engine.cli import main
from engine.executor import make_plan
from engine.fusion_search.estimate import estimate, subgraph_traffic
from engine.fusion_search.measure import Measured, attribute, contributing_passes, fused_sets, measure_model
from engine.fusion_search.patterns import DATA_PARALLEL, EPILOGUE, unclassified_ops
from engine.fusion_search.search import Settings, find_occurrences, rank
from engine.fusion_search.signature import canonical, label
from engine.fusion_search.subgraphs import classify, enumerate_subgraphs, index_graph, is_convex
from engine.fusion_search.traffic import node_traffic
from engine.ir import infer_specs
from engine.models import MODELS, build_model
from engine.passes import run_passes
from engine.profile import layer_counts
from engine.report import Layer, TimeStats
from engine.roofline import Peaks
from tests.engine.passes_graphs import graph, weights

PEAKS = Peaks(gflops=100.0, gbs=10.0)
B8, W88 = weights((8,), (8, 8))  # a bias and a weight for x: (4, 8) float32, 128 bytes


def names(index, cands):
    return sorted(tuple(sorted(index.nodes[m].name for m in c.members)) for c in cands)


def layers(times, sources=None):
    """Fake profile rows: name -> seconds (sources default to the name itself)."""
    sources = sources or {}
    return [Layer(name=n, op="?", index=i, sources=sources.get(n, [n]), flops=0, bytes=0,
                  time=TimeStats(median=t, p25=t, p75=t, min=t, n=1), gflops=0.0, gbs=0.0, ai=0.0, bound="bandwidth")
            for i, (n, t) in enumerate(times.items())]


def test_every_registered_op_has_a_fusion_kind():
    assert unclassified_ops() == []


def test_a_chain_of_data_parallel_ops_yields_each_connected_subset_once():
    g = graph([("add", "Add", ("x", "b"), ("t",)), ("relu", "Relu", ("t",), ("u",)),
               ("sig", "Sigmoid", ("u",), ("y",))], {"b": B8})
    index = index_graph(g)
    assert names(index, enumerate_subgraphs(index, 3)) == [
        ("add", "relu"), ("add", "relu", "sig"), ("relu", "sig")]
    assert names(index, enumerate_subgraphs(index, 2)) == [("add", "relu"), ("relu", "sig")]


def test_non_data_parallel_ops_exclude_a_subgraph_unless_they_anchor_an_epilogue():
    g = graph([("r0", "Relu", ("x",), ("a",)), ("mm", "MatMul", ("a", "W"), ("m",)),
               ("bias", "Add", ("m", "b"), ("mb",)), ("r1", "Relu", ("mb",), ("h",)),
               ("fc", "Linear", ("h", "W2"), ("l",)), ("sig", "Sigmoid", ("l",), ("y",))],
              {"W": W88, "b": B8, "W2": W88})
    index = index_graph(g)
    assert names(index, enumerate_subgraphs(index, 4, epilogues=False)) == [("bias", "r1")]
    cands = list(enumerate_subgraphs(index, 4))
    # no prologue (r0 -> mm, r1 -> fc) and never two GEMMs in one pattern
    assert names(index, cands) == [("bias", "mm"), ("bias", "mm", "r1"), ("bias", "r1"), ("fc", "sig")]
    kinds = {tuple(sorted(index.nodes[m].name for m in c.members)): c.kind for c in cands}
    assert kinds[("bias", "r1")] == DATA_PARALLEL and kinds[("bias", "mm", "r1")] == EPILOGUE


def _connected(index, members):
    members = set(members)
    seen, stack = set(), [min(members)]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend((index.succ[n] | index.pred[n]) & members)
    return seen == members


@pytest.mark.parametrize("seed", range(5))
def test_enumeration_matches_brute_force_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    tensors, nodes = ["x"], []
    for i in range(11):
        op = ["Add", "Mul", "Relu", "MatMul"][rng.integers(4)]
        ins = (tensors[rng.integers(len(tensors))],) + (
            ("W",) if op == "MatMul" else (tensors[rng.integers(len(tensors))],) if op != "Relu" else ())
        nodes.append((f"n{i}", op, ins, (f"t{i}",)))
        tensors.append(f"t{i}")
    g = graph(nodes, {"W": W88}, outputs=(tensors[-1],), inputs=(("x", (8, 8)),))
    index = index_graph(g)
    got = [c.members for c in enumerate_subgraphs(index, 4)]
    assert len(got) == len(set(got))  # each once
    expected = set()
    for k in range(2, 5):
        for combo in itertools.combinations(range(len(index.nodes)), k):
            if _connected(index, combo) and (c := classify(index, frozenset(combo))) is not None:
                expected.add(c.members)
    assert set(got) == expected


def test_ops_that_cannot_anchor_an_epilogue_exclude_it():
    g = graph([("r0", "Relu", ("x",), ("a",)), ("pool", "MaxPool", ("a",), ("p",), {"kernel_shape": [2, 2]}),
               ("r1", "Relu", ("p",), ("y",))], {}, inputs=(("x", (1, 2, 4, 4)),))
    index = index_graph(g)
    assert list(enumerate_subgraphs(index, 3)) == []


def test_a_subgraph_with_a_path_leaving_it_and_coming_back_is_not_fusable():
    g = graph([("r0", "Relu", ("x",), ("a",)), ("mm", "MatMul", ("a", "W"), ("m",)),
               ("add", "Add", ("a", "m"), ("y",))], {"W": W88})
    index = index_graph(g)
    assert not is_convex(index, frozenset({0, 2}))  # r0 -> mm -> add
    assert list(enumerate_subgraphs(index, 3, epilogues=False)) == []
    assert names(index, enumerate_subgraphs(index, 3)) == [("add", "mm")]  # mm + its epilogue is fine


def _residual_block(prefix):
    return graph([(f"{prefix}.fc", "Linear", ("x", f"{prefix}.W", f"{prefix}.b"), (f"{prefix}.h",)),
                  (f"{prefix}.res", "Add", ("x", f"{prefix}.h"), (f"{prefix}.s",)),
                  (f"{prefix}.act", "Relu", (f"{prefix}.s",), ("y",))], {f"{prefix}.W": W88, f"{prefix}.b": B8})


def test_canonical_signatures_are_equal_across_renamings_and_differ_for_other_structure():
    a, b = index_graph(_residual_block("one")), index_graph(_residual_block("zwei"))
    sig_a, order_a = canonical(a, [2, 1, 0])
    sig_b, _ = canonical(b, [0, 1, 2])
    assert sig_a == sig_b
    assert [a.nodes[m].op for m in order_a] == [op for op, _ in sig_a]
    assert label(sig_a) == "Linear → Add[x] → Relu"
    # the same ops with the residual replaced by a bias: another pattern
    c = index_graph(graph([("fc", "Linear", ("x", "W", "b"), ("h",)), ("bias", "Add", ("h", "c"), ("s",)),
                           ("act", "Relu", ("s",), ("y",))], {"W": W88, "b": B8, "c": B8}))
    assert canonical(c, [0, 1, 2])[0] != sig_a
    assert label(canonical(c, [0, 1, 2])[0]) == "Linear → Add[w] → Relu"
    # operand order does not matter for Add, it does for Sub
    c2 = index_graph(graph([("fc", "Linear", ("x", "W", "b"), ("h",)), ("bias", "Add", ("c", "h"), ("s",)),
                            ("act", "Relu", ("s",), ("y",))], {"W": W88, "b": B8, "c": B8}))
    assert canonical(c2, [0, 1, 2])[0] == canonical(c, [0, 1, 2])[0]
    d1 = index_graph(graph([("r", "Relu", ("x",), ("a",)), ("s", "Sub", ("a", "x"), ("y",))], {}))
    d2 = index_graph(graph([("r", "Relu", ("x",), ("a",)), ("s", "Sub", ("x", "a"), ("y",))], {}))
    assert canonical(d1, [0, 1])[0] != canonical(d2, [0, 1])[0]


def test_a_diamond_is_labelled_by_its_edges():
    g = graph([("r", "Relu", ("x",), ("a",)), ("s", "Sigmoid", ("a",), ("b",)),
               ("t", "Tanh", ("a",), ("c",)), ("m", "Mul", ("b", "c"), ("y",))], {})
    index = index_graph(g)
    sig, _ = canonical(index, [0, 1, 2, 3])
    assert label(sig) == "Relu → (Sigmoid, Tanh); Sigmoid → Mul; Tanh → Mul"


def test_fusing_saves_the_intermediate_write_and_read_priced_at_the_measured_bandwidth():
    g = graph([("add", "Add", ("x", "b"), ("t",)), ("relu", "Relu", ("t",), ("y",))], {"b": B8})
    index, specs = index_graph(g), infer_specs(g)
    traffic = subgraph_traffic(index, specs, [0, 1])
    assert (traffic.total, traffic.kept, traffic.saved) == (288 + 256, 128 + 32 + 128, 256)
    fast = {"add": 2e-8, "relu": 1e-8}  # 544 bytes in 30 ns: 18 GB/s, above the 10 GB/s peak (cache)
    for bandwidth in ("achieved", "max"):
        est = estimate(index, specs, [0, 1], None, fast, PEAKS, bandwidth)
        assert est.gbs == pytest.approx(544 / 3e-8 / 1e9)
        assert est.saved_s == pytest.approx(3e-8 * 256 / 544)
        assert est.speedup == pytest.approx(544 / (544 - 256))
    # at peak the kept 288 bytes alone need 28.8 ns of the 30: the floor caps the saving
    assert estimate(index, specs, [0, 1], None, fast, PEAKS, "peak").saved_s == pytest.approx(30e-9 - 28.8e-9)
    slow = {"add": 2e-6, "relu": 1e-6}  # 0.18 GB/s: arithmetic or call overhead, not memory
    assert estimate(index, specs, [0, 1], None, slow, PEAKS, "achieved").saved_s == pytest.approx(3e-6 * 256 / 544)
    for bandwidth in ("peak", "max"):
        assert estimate(index, specs, [0, 1], None, slow, PEAKS, bandwidth).saved_s == pytest.approx(256 / 10e9)


def test_an_intermediate_read_outside_still_has_to_be_written():
    g = graph([("add", "Add", ("x", "b"), ("t",)), ("relu", "Relu", ("t",), ("y",))], {"b": B8},
              outputs=("y", "t"))
    traffic = subgraph_traffic(index_graph(g), infer_specs(g), [0, 1])
    assert traffic.saved == 128  # only Relu's read of t


def test_views_are_followed_and_shared_outside_inputs_are_read_once():
    g = graph([("add", "Add", ("x", "b"), ("t",)), ("view", "Reshape", ("t",), ("v",), {"shape": [8, 4]}),
               ("tr", "Transpose", ("v",), ("y",), {"perm": [1, 0]}), ("other", "Relu", ("v",), ("z",))],
              {"b": B8}, outputs=("y", "z"))
    index, specs = index_graph(g), infer_specs(g)
    # the Reshape's output is read outside, so Add must still write t; only tr's read is saved
    assert subgraph_traffic(index, specs, [0, 1, 2]).saved == 128
    g2 = graph([("sub", "Sub", ("x", "b"), ("s",)), ("mul", "Mul", ("s", "x"), ("y",))], {"b": B8})
    # s written and read (256) plus the second read of x (128)
    assert subgraph_traffic(index_graph(g2), infer_specs(g2), [0, 1]).saved == 384


def test_an_epilogue_never_saves_more_than_its_data_parallel_ops_take():
    g = graph([("mm", "MatMul", ("x", "W"), ("h",)), ("relu", "Relu", ("h",), ("y",))], {"W": W88})
    index, specs = index_graph(g), infer_specs(g)
    est = estimate(index, specs, [0, 1], 0, {"mm": 5e-6, "relu": 1e-6}, PEAKS, "achieved")
    assert est.traffic.saved == 256 and est.anchor_time_s == 5e-6
    assert est.fused_s == pytest.approx(5e-6) and est.speedup == pytest.approx(6 / 5)


@pytest.mark.parametrize("model", [n for n in MODELS if n.endswith("_small")] + ["mlp"])
def test_the_per_operand_split_adds_up_to_every_zoo_layers_bytes(model):
    plan = make_plan(build_model(model).graph)
    for i, step in enumerate(plan.steps):
        reads, writes = node_traffic(step.node, plan.specs)
        assert sum(reads) + sum(writes) == layer_counts(plan, i)[1], step.node.name


def test_measured_gains_are_attributed_through_the_fused_layers_sources():
    unfused = {"fc1": 3e-3, "relu1": 1e-3, "fc2": 2e-3}
    fused = {"fc1+relu1": 2e-3, "fc2": 2.5e-3}
    sources = {"fc1+relu1": ("fc1", "relu1"), "fc2": ("fc2",)}
    got = attribute("mlp", unfused, fused, sources, {frozenset({"fc1", "relu1"}): ("linear_activation",)})
    assert got == [Measured("mlp", frozenset({"fc1", "relu1"}), ("linear_activation",), 4e-3, 2e-3)]
    assert got[0].speedup == pytest.approx(2.0)
    assert attribute("mlp", unfused, fused, sources, {frozenset({"fc2", "relu2"}): ("x",)}) == []


def test_fused_runs_are_measured_against_the_unfused_graph_on_a_real_model(probes):
    built = build_model("mlp", batch=2, sizes=[16, 32, 8])
    wanted = {frozenset({"fc1", "relu1"}), frozenset({"fc1", "relu1", "fc2"})}
    (got,) = measure_model(built, wanted, warmup=0, repeats=3)
    assert (got.model, got.nodes, got.passes) == ("mlp", frozenset({"fc1", "relu1"}), ("linear_activation",))
    assert got.unfused_s > 0 and got.fused_s > 0


def test_the_passes_that_fuse_an_occurrence_are_named():
    g = build_model("resnet_small").graph
    result = run_passes(g, "all")
    nodes = frozenset({"stem.conv", "stem.bn", "stem.relu"})
    assert nodes in fused_sets(result.lineage, {nodes}).values()
    assert contributing_passes(g, result.applied, nodes) == ("conv_batchnorm", "conv_relu")


def test_patterns_are_counted_across_models_and_ranked_by_total_saving():
    found = []
    for model, t in (("m1", 1e-6), ("m2", 4e-6)):
        g = graph([("add", "Add", ("x", "b"), ("t",)), ("relu", "Relu", ("t",), ("y",))], {"b": B8})
        found += find_occurrences(model, g, layers({"add": t, "relu": t}), PEAKS,
                                  Settings(max_size=2, bandwidth="achieved"))
    measured = [Measured("m2", frozenset({"add", "relu"}), ("p",), 8e-6, 4e-6)]
    (pattern,) = rank(found, measured)
    assert pattern.label == "Add[w] → Relu" and dict(pattern.models) == {"m1": 1, "m2": 1}
    assert pattern.saved_s == pytest.approx(10e-6 * 256 / 544)
    assert pattern.measured_speedup == pytest.approx(2.0) and pattern.passes == ["p"]


def test_the_cli_prints_the_ranking_and_writes_it_as_json(probes, tmp_path, capsys):
    path = tmp_path / "out" / "fs.json"
    code = main(["fusion-search", "mlp", "resnet", "--small", "--batch", "2", "--warmup", "0",
                 "--repeats", "1", "--top", "50", "--json", str(path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "resnet_small" in printed and "est. speedup" in printed and "Linear → Relu" in printed
    doc = json.loads(path.read_text())
    assert doc["schema"] == "roofwatch.fusion-search/1"
    assert [m["name"] for m in doc["models"]] == ["mlp", "resnet_small"]
    assert len(doc["patterns"]) == min(50, doc["patterns_found"]) > 0
    assert [p["rank"] for p in doc["patterns"]] == list(range(1, len(doc["patterns"]) + 1))
    by_name = {p["pattern"]: p for p in doc["patterns"]}
    assert by_name["Linear → Relu"]["models"] == {"mlp": 3}  # the last Linear has no Relu
    assert by_name["Linear → Relu"]["passes"] == ["linear_activation"]
    assert by_name["Linear → Relu"]["measured_speedup"] > 0
    assert by_name["Conv → BatchNormalization"]["passes"] == ["conv_batchnorm"]
    assert by_name["BatchNormalization → Relu"]["measured_speedup"] is None  # no pass fuses it alone
    assert all(p["est_saved_bytes"] > 0 for p in doc["patterns"])
    assert [p.name for p in path.parent.iterdir()] == ["fs.json"]


def test_an_unknown_model_exits_2_listing_the_valid_ones(capsys):
    assert main(["fusion-search", "nosuch", "--no-measure"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nosuch'" in err and "mlp" in err and "Traceback" not in err


def test_a_max_size_beyond_the_limit_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fusion-search", "--max-size", "99"])
    assert exc.value.code == 2
    assert "--max-size" in capsys.readouterr().err
