import re

from engine.ir import Graph, Node, model_version
from engine.models import build_model

SMALL = [32, 64, 16]


def test_it_is_a_hex_digest_stable_across_rebuilds():
    a = model_version(build_model("mlp", batch=4, sizes=SMALL).graph)
    b = model_version(build_model("mlp", batch=4, sizes=SMALL).graph)
    assert a == b
    assert re.fullmatch(r"[0-9a-f]{20}", a)


def test_weight_values_do_not_count():
    a = build_model("mlp", batch=4, sizes=SMALL, seed=0).graph
    b = build_model("mlp", batch=4, sizes=SMALL, seed=1).graph
    assert not (a.initializers["fc1.weight"] == b.initializers["fc1.weight"]).all()
    assert model_version(a) == model_version(b)


def test_a_layer_size_change_changes_it():
    a = model_version(build_model("mlp", batch=4, sizes=SMALL).graph)
    assert model_version(build_model("mlp", batch=4, sizes=[32, 65, 16]).graph) != a
    assert model_version(build_model("mlp", batch=4, sizes=[32, 64, 64, 16]).graph) != a


def test_attributes_and_weight_dtypes_count():
    g = build_model("mlp", batch=4, sizes=SMALL).graph
    base = model_version(g)
    with_attr = tuple(Node(n.name, n.op, n.inputs, n.outputs, {"tag": 1}) for n in g.nodes)
    assert model_version(Graph(g.name, g.inputs, g.initializers, with_attr, g.outputs)) != base
    half = {**g.initializers, "fc1.weight": g.initializers["fc1.weight"].astype("float16")}
    assert model_version(Graph(g.name, g.inputs, half, g.nodes, g.outputs)) != base
