import numpy as np
import pytest

from engine.executor import run_graph
from engine.models import MODELS, ModelParamError, UnknownModelError, build_model


def test_mlp_is_registered_with_realistic_defaults():
    model = build_model("mlp")
    assert "mlp" in MODELS
    assert model.params == {"batch": 64, "sizes": [512, 1024, 1024, 512, 256], "seed": 0}
    assert [n.op for n in model.graph.nodes] == ["Linear", "Relu"] * 3 + ["Linear"]
    assert model.graph.inputs[0].shape == (64, 512)


def test_an_unknown_model_lists_every_model_with_its_params():
    with pytest.raises(UnknownModelError) as e:
        build_model("resnet9000")
    message = str(e.value)
    assert message.startswith("unknown model 'resnet9000'; available models: ")
    assert "mlp(batch=64, sizes=512,1024,1024,512,256, seed=0)" in message
    for name in MODELS:
        assert f"{name}(" in message


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch": 0}, "param batch: must be >= 1, got 0"),
        ({"batch": "8"}, "param batch: expected an integer, got '8'"),
        ({"sizes": [16, -4]}, r"param sizes\[1\]: must be >= 1, got -4"),
        ({"sizes": [16]}, "param sizes: need at least 2 sizes"),
        ({"depth": 3}, "model 'mlp' has no param 'depth'; its params are batch, sizes, seed"),
    ],
)
def test_bad_params_are_named(params, message):
    with pytest.raises(ModelParamError, match=message):
        build_model("mlp", **params)


def test_the_mlp_forward_pass_matches_numpy_and_the_last_layer_is_linear():
    model = build_model("mlp", batch=3, sizes=[8, 16, 4])
    x = model.make_inputs(0)["x"]
    w = model.graph.initializers
    h = np.maximum(x @ w["fc1.weight"] + w["fc1.bias"], 0)
    expected = h @ w["fc2.weight"] + w["fc2.bias"]
    y = run_graph(model.graph, model.make_inputs(0))["y"]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert (y < 0).any()  # no activation after the last layer


def test_weights_and_inputs_are_seeded():
    a, b = build_model("mlp", batch=2, sizes=[4, 3]), build_model("mlp", batch=2, sizes=[4, 3])
    np.testing.assert_array_equal(a.graph.initializers["fc1.weight"], b.graph.initializers["fc1.weight"])
    np.testing.assert_array_equal(a.make_inputs(5)["x"], b.make_inputs(5)["x"])
    assert not np.array_equal(a.make_inputs(5)["x"], a.make_inputs(6)["x"])
    assert a.graph.initializers["fc1.weight"].dtype == np.float32
