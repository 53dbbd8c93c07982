"""A multi-layer perceptron: Linear+Relu blocks, the last Linear without an
activation. Sizes resemble the top MLP of a recommendation model."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node, TensorSpec
from engine.models.base import InputMaker, ModelParamError, ModelSpec, Param


def build_mlp(batch: int, sizes: list[int], seed: int) -> tuple[Graph, InputMaker]:
    if len(sizes) < 2:
        raise ModelParamError(f"param sizes: need at least 2 sizes (input and output), got {sizes}")
    rng = np.random.default_rng(seed)
    initializers: dict[str, np.ndarray] = {}
    nodes: list[Node] = []
    x = "x"
    last = len(sizes) - 1
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        w, b = f"fc{i}.weight", f"fc{i}.bias"
        # He-scaled weights keep activations O(1) through the stack.
        initializers[w] = (rng.standard_normal((k, n), dtype=np.float32) * np.float32(np.sqrt(2.0 / k)))
        initializers[b] = rng.uniform(-0.1, 0.1, size=n).astype(np.float32)
        if i == last:
            nodes.append(Node(f"fc{i}", "Linear", (x, w, b), ("y",)))
            break
        nodes.append(Node(f"fc{i}", "Linear", (x, w, b), (f"fc{i}.out",)))
        nodes.append(Node(f"relu{i}", "Relu", (f"fc{i}.out",), (f"h{i}",)))
        x = f"h{i}"
    graph = Graph(
        name="mlp",
        inputs=(TensorSpec("x", "float32", (batch, sizes[0])),),
        initializers=initializers,
        nodes=tuple(nodes),
        outputs=("y",),
    )

    def make_inputs(seed: int = 0) -> dict[str, np.ndarray]:
        data_rng = np.random.default_rng([seed, 0x1D])  # independent of the weight stream
        return {"x": data_rng.standard_normal((batch, sizes[0]), dtype=np.float32)}

    return graph, make_inputs


SPEC = ModelSpec(
    name="mlp",
    summary="Linear+Relu stack, last layer linear",
    params=(
        Param("batch", 64, "rows per forward pass"),
        Param("sizes", [512, 1024, 1024, 512, 256], "layer widths, input first", kind="int_list"),
        Param("seed", 0, "seed of the weights", minimum=0),
    ),
    build=build_mlp,
)
