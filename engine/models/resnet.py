"""A small ResNet for 3-channel square images, built from basic blocks.

    stem:   Conv 3x3 (3 -> width) + BatchNormalization + Relu, MaxPool 3x3 stride 2
    stages: stage s has width * 2**s channels and blocks[s] basic blocks; the
            first block of every stage after the first halves the resolution
            (stride-2 Conv) and projects its shortcut with a 1x1 stride-2 Conv + BN
    block:  Conv 3x3 + BN + Relu, Conv 3x3 + BN, Add(shortcut), Relu; in block j of
            stage s the nodes are sS.bJ.conv1, .bn1, .relu1, .conv2, .bn2,
            .conv_proj, .bn_proj (projection only), .add, .relu2
    head:   GlobalAveragePool, Reshape to (batch, channels), Linear to `classes`

Convs feeding a BatchNormalization carry no bias (the BN's shift is the bias),
as in the reference ResNets; folding BN into the conv is a graph pass, so the
unoptimised graph keeps them as separate layers.
"""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node, TensorSpec
from engine.models.base import InputMaker, ModelParamError, ModelSpec, Param

IN_CHANNELS = 3


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.initializers: dict[str, np.ndarray] = {}
        self.nodes: list[Node] = []

    def conv_bn(self, prefix: str, suffix: str, x: str, cin: int, cout: int, kernel: int, stride: int) -> str:
        """Conv `{prefix}.conv{suffix}` (no bias, 'same' padding) + BatchNormalization
        `{prefix}.bn{suffix}`; returns the BN output."""
        conv, bn = f"{prefix}.conv{suffix}", f"{prefix}.bn{suffix}"
        w = f"{conv}.weight"
        fan_in = cin * kernel * kernel
        self.initializers[w] = (self.rng.standard_normal((cout, cin, kernel, kernel), dtype=np.float32)
                                * np.float32(np.sqrt(2.0 / fan_in)))  # He init keeps activations O(1)
        pad = kernel // 2
        self.nodes.append(Node(conv, "Conv", (x, w), (f"{conv}.out",),
                               {"kernel_shape": [kernel, kernel], "strides": [stride, stride],
                                "pads": [pad, pad, pad, pad]}))
        stats = {
            "scale": self.rng.uniform(0.5, 1.0, cout),
            "bias": self.rng.uniform(-0.1, 0.1, cout),
            "mean": self.rng.uniform(-0.1, 0.1, cout),
            "var": self.rng.uniform(0.5, 1.5, cout),
        }
        names = []
        for role, values in stats.items():
            self.initializers[f"{bn}.{role}"] = values.astype(np.float32)
            names.append(f"{bn}.{role}")
        self.nodes.append(Node(bn, "BatchNormalization", (f"{conv}.out", *names), (f"{bn}.out",), {"epsilon": 1e-5}))
        return f"{bn}.out"

    def relu(self, name: str, x: str) -> str:
        self.nodes.append(Node(name, "Relu", (x,), (f"{name}.out",)))
        return f"{name}.out"

    def basic_block(self, name: str, x: str, cin: int, cout: int, stride: int) -> str:
        h = self.relu(f"{name}.relu1", self.conv_bn(name, "1", x, cin, cout, 3, stride))
        h = self.conv_bn(name, "2", h, cout, cout, 3, 1)
        shortcut = x if stride == 1 and cin == cout else self.conv_bn(name, "_proj", x, cin, cout, 1, stride)
        self.nodes.append(Node(f"{name}.add", "Add", (h, shortcut), (f"{name}.add.out",)))
        return self.relu(f"{name}.relu2", f"{name}.add.out")


def build_resnet(
    batch: int, image: int, width: int, blocks: list[int], classes: int, seed: int
) -> tuple[Graph, InputMaker]:
    if not blocks:
        raise ModelParamError("param blocks: need at least one stage, got []")
    b = _Builder(seed)
    x = b.relu("stem.relu", b.conv_bn("stem", "", "x", IN_CHANNELS, width, 3, 1))
    b.nodes.append(Node("stem.pool", "MaxPool", (x,), ("stem.pool.out",),
                        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}))
    x, channels = "stem.pool.out", width
    for s, count in enumerate(blocks, start=1):
        stage_channels = width * 2 ** (s - 1)
        for j in range(1, count + 1):
            stride = 2 if s > 1 and j == 1 else 1
            x = b.basic_block(f"s{s}.b{j}", x, channels, stage_channels, stride)
            channels = stage_channels
    b.nodes.append(Node("head.pool", "GlobalAveragePool", (x,), ("head.pool.out",)))
    b.nodes.append(Node("head.flatten", "Reshape", ("head.pool.out",), ("head.features",),
                        {"shape": [batch, channels]}))
    b.initializers["head.fc.weight"] = (b.rng.standard_normal((channels, classes), dtype=np.float32)
                                        * np.float32(np.sqrt(1.0 / channels)))
    b.initializers["head.fc.bias"] = b.rng.uniform(-0.1, 0.1, classes).astype(np.float32)
    b.nodes.append(Node("head.fc", "Linear", ("head.features", "head.fc.weight", "head.fc.bias"), ("logits",)))
    graph = Graph(
        name="resnet",
        inputs=(TensorSpec("x", "float32", (batch, IN_CHANNELS, image, image)),),
        initializers=b.initializers,
        nodes=tuple(b.nodes),
        outputs=("logits",),
    )

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        data_rng = np.random.default_rng([seed, 0x1D])  # independent of the weight stream
        return {"x": data_rng.standard_normal((batch, IN_CHANNELS, image, image), dtype=np.float32)}

    return graph, make_inputs


def _params(batch: int, image: int, width: int, blocks: list[int], classes: int) -> tuple[Param, ...]:
    return (
        Param("batch", batch, "images per forward pass"),
        Param("image", image, "height and width of the input images", minimum=8),
        Param("width", width, "channels of the stem and the first stage (doubled per stage)"),
        Param("blocks", blocks, "basic blocks per stage", kind="int_list"),
        Param("classes", classes, "outputs of the final Linear layer"),
        Param("seed", 0, "seed of the weights", minimum=0),
    )


SPEC = ModelSpec(
    name="resnet",
    summary="ResNet of basic blocks on 3x64x64 images: Conv/BN/Relu, residual Add, stride-2 projections",
    params=_params(batch=32, image=64, width=32, blocks=[2, 2], classes=100),
    build=build_resnet,
)

SMALL_SPEC = ModelSpec(
    name="resnet_small",
    summary="the resnet at a tiny size, for smoke tests",
    params=_params(batch=4, image=32, width=8, blocks=[1, 1], classes=10),
    build=build_resnet,
)
