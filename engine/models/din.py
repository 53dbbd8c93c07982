"""DIN, the Deep Interest Network (Zhou et al., KDD 2018): the candidate item
attends over the user's behaviour sequence with the local activation unit
(no softmax: the weights keep the intensity of interest), and the weighted
sum of the behaviour embeddings joins the user profile and the candidate in
the top MLP. Hidden activations are Sigmoid/Relu rather than Dice/PReLU so
every layer has a plain ONNX equivalent."""
from __future__ import annotations

from engine.ir import Graph
from engine.models.base import GraphBuilder, InputMaker, model_specs
from engine.models.sequence_blocks import attention_scores, behaviour_lookups, behaviour_rows, click_model


def build_din(batch: int, seq_len: int, rows: int, dim: int, seed: int,
              name: str = "din") -> tuple[Graph, InputMaker]:
    g = GraphBuilder(name, seed)
    b = behaviour_lookups(g, batch, seq_len, rows, dim, lengths=False)
    scores = attention_scores(g, "att", b.query, b.items, batch, seq_len, dim)
    weights = g.op("att.masked", "Mul", (scores, b.mask))
    w3 = g.op("att.weights", "Reshape", (weights,), shape=[batch, 1, seq_len])
    pooled = g.op("att.pool", "MatMul", (w3, b.items))  # (B, 1, d): sum_t w_t k_t
    interest = g.op("att.interest", "Reshape", (pooled,), shape=[batch, dim])
    return click_model(g, b, interest, data_key=0xD1)


SPEC, SMALL_SPEC = model_specs(
    "din",
    "Deep Interest Network: attention over the behaviour sequence, MLP 200-80-1",
    "din at test size",
    build_din,
    behaviour_rows("item embedding width"),
)
