import numpy as np
import pytest

from engine.executor import run_graph
from engine.ir import Graph, GraphError, Node, TensorSpec


def test_an_out_of_range_embedding_id_names_the_node_and_its_table():
    graph = Graph(
        name="lookup",
        inputs=(TensorSpec("ids", "int64", (3,)), TensorSpec("offsets", "int64", (2,))),
        initializers={"emb7.weight": np.ones((5, 4), dtype=np.float32)},
        nodes=(Node("emb7", "EmbeddingBag", ("emb7.weight", "ids", "offsets"), ("y",)),),
        outputs=("y",),
    )
    ids = np.array([0, 4, 5], dtype=np.int64)  # 5 is past the last of 5 rows
    with pytest.raises(GraphError) as e:
        run_graph(graph, {"ids": ids, "offsets": np.array([0, 2], dtype=np.int64)})
    message = str(e.value)
    assert message.startswith("node 'emb7' (EmbeddingBag) reading emb7.weight, ids, offsets: ")
    assert "id 5" in message and "5 rows" in message
