import numpy as np

from engine.passes import run_passes
from tests.engine.passes_graphs import graph, same_outputs, weights

CONV = {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}


def _conv_bn_relu(with_bias):
    w, b, scale, shift, mean = weights((4, 3, 3, 3), (4,), (4,), (4,), (4,))
    var = np.linspace(0.5, 1.5, 4, dtype=np.float32)
    conv_in = ("x", "w", "b") if with_bias else ("x", "w")
    return graph([("conv", "Conv", conv_in, ("c",), CONV),
                  ("bn", "BatchNormalization", ("c", "s", "sh", "m", "v"), ("n",), {"epsilon": 1e-5}),
                  ("relu", "Relu", ("n",), ("y",))],
                 {"w": w, "b": b, "s": scale, "sh": shift, "m": mean, "v": var}, inputs=(("x", (2, 3, 6, 6)),))


def test_batchnorm_folds_into_a_conv_with_or_without_bias_and_relu_fuses_on():
    for with_bias in (False, True):
        g = _conv_bn_relu(with_bias)
        r = run_passes(g, "conv_batchnorm,conv_relu")
        (node,) = r.graph.nodes
        assert node.op == "FusedConv" and node.name == "conv+bn+relu"
        assert r.lineage == {"conv+bn+relu": ("conv", "bn", "relu")}
        assert not {"w", "s", "sh", "m", "v"} & set(r.graph.initializers)  # the folded weights replace them
        same_outputs(g, r.graph, rtol=1e-5, atol=1e-5)


def test_conv_batchnorm_alone_leaves_the_relu():
    r = run_passes(_conv_bn_relu(False), "conv_batchnorm")
    assert [n.op for n in r.graph.nodes] == ["Conv", "Relu"]
