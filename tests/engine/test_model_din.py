import re

import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import model_version, validate
from engine.models import MODELS, build_model
from engine.profile import profile
from tests.engine import seq_reference


@pytest.fixture(scope="module")
def small():
    return build_model("din_small")


def test_both_sizes_are_registered_with_their_params():
    assert MODELS["din"].resolve({}) == {"batch": 128, "seq_len": 50, "rows": 200_000, "dim": 64, "seed": 0}
    assert set(MODELS["din_small"].resolve({})) == {"batch", "seq_len", "rows", "dim", "seed"}


def test_the_output_equals_the_numpy_reimplementation(small):
    feeds = small.make_inputs(0)
    (prob,) = run_graph(small.graph, feeds).values()
    expected = seq_reference.din(small.graph.initializers, feeds)
    assert prob.shape == (4, 1) and prob.dtype == np.float32
    np.testing.assert_allclose(prob, expected, rtol=1e-4, atol=1e-6)
    assert np.isfinite(prob).all() and ((prob > 0) & (prob < 1)).all()


def test_padded_behaviours_do_not_change_the_output(small):
    feeds = small.make_inputs(3)
    short = int(np.argmin(feeds["seq_mask"].sum(axis=1)))
    n = int(feeds["seq_mask"][short].sum())
    assert n < feeds["hist_ids"].shape[1], "the seeded inputs should pad at least one row"
    before = run_graph(small.graph, feeds)["top.prob"]
    feeds["hist_ids"] = feeds["hist_ids"].copy()
    feeds["hist_ids"][short, n:] = 7
    after = run_graph(small.graph, feeds)["top.prob"]
    np.testing.assert_array_equal(before, after)


def test_the_attention_pieces_are_separate_layers(small):
    ops = {n.name: n.op for n in small.graph.nodes}
    assert ops["att.features"] == "Concat" and ops["att.diff"] == "Sub" and ops["att.pool"] == "MatMul"
    assert ops["att.fc1.act"] == "Sigmoid" and ops["top.prob"] == "Sigmoid"
    assert "Softmax" not in ops.values()  # DIN keeps the raw weights


def test_it_profiles_every_layer_with_flops_and_bytes(small, peaks):
    result = profile(small.graph, small.make_inputs(0), warmup=0, repeats=1, peaks=peaks)
    by_name = {ly.name: ly for ly in result.layers}
    assert len(result.layers) == len(small.graph.nodes)
    assert by_name["att.fc1"].flops == 2 * 4 * 6 * 32 * 80 + 4 * 6 * 80
    assert all(ly.bytes >= 0 for ly in result.layers) and by_name["item.hist"].bytes > 0


def test_the_default_size_builds_and_validates():
    model = build_model("din", rows=1000)  # the full table size only costs init time
    validate(model.graph)
    feeds = model.make_inputs(0)
    assert feeds["hist_ids"].shape == (128, 50) and feeds["hist_ids"].max() < 1000


def test_model_version_is_stable_and_ignores_the_seed():
    a = model_version(build_model("din_small").graph)
    assert re.fullmatch(r"[0-9a-f]{20}", a)
    assert model_version(build_model("din_small", seed=5).graph) == a
    assert model_version(build_model("din_small", seq_len=7).graph) != a


def test_weights_and_inputs_are_seeded(small):
    again = build_model("din_small")
    for name, arr in small.graph.initializers.items():
        np.testing.assert_array_equal(arr, again.graph.initializers[name])
    a, b = small.make_inputs(1), again.make_inputs(1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["hist_ids"], small.make_inputs(2)["hist_ids"])
