"""Plain numpy re-implementations of DIN and DIEN (float64, explicit step
loops) from a built graph's initializers, for the model tests."""
import numpy as np

from tests.engine.test_ops_rnn import reference_recurrence


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def linear(w, name, x):
    return x @ w[f"{name}.weight"].astype(np.float64) + w[f"{name}.bias"]


def attention_scores(w, q, keys):
    """[q, k, q-k, q*k] -> 80 -> 40 -> 1 per step, position by position."""
    b, t, _ = keys.shape
    out = np.zeros((b, t))
    for row in range(b):
        for step in range(t):
            k = keys[row, step]
            h = np.concatenate([q[row], k, q[row] - k, q[row] * k])
            h = sigmoid(linear(w, "att.fc1", h))
            h = sigmoid(linear(w, "att.fc2", h))
            out[row, step] = linear(w, "att.fc3", h)[0]
    return out


def user_and_candidate(w, feeds):
    table = w["item.table"].astype(np.float64)
    user = w["user.table"].astype(np.float64)[feeds["user_profile"]].reshape(len(feeds["cand_id"]), -1)
    return table, user, table[feeds["cand_id"]]


def top(w, x):
    h = np.maximum(linear(w, "top.fc1", x), 0)
    h = np.maximum(linear(w, "top.fc2", h), 0)
    return sigmoid(linear(w, "top.fc3", h))


def din(w, feeds):
    table, user, q = user_and_candidate(w, feeds)
    keys = table[feeds["hist_ids"]]
    weights = attention_scores(w, q, keys) * feeds["seq_mask"]
    interest = np.einsum("bt,btd->bd", weights, keys)
    return top(w, np.concatenate([user, interest, q], axis=1))


def masked_softmax(scores, lens):
    out = np.zeros_like(scores)
    for row, n in enumerate(lens):
        e = np.exp(scores[row, :n] - scores[row, :n].max())
        out[row, :n] = e / e.sum()
    return out


def gru_weights(w, prefix):
    return [w[f"{prefix}.{part}"] for part in ("weight", "recurrence", "weight_bias", "recurrence_bias")]


def dien(w, feeds):
    table, user, q = user_and_candidate(w, feeds)
    lens = feeds["seq_lens"]
    behaviours = table[feeds["hist_ids"]]
    states, _ = reference_recurrence(behaviours, *gru_weights(w, "extractor"), lens=lens)
    alpha = masked_softmax(attention_scores(w, q, states), lens)
    _, final = reference_recurrence(states, *gru_weights(w, "evolution"), lens=lens, scores=alpha)
    return top(w, np.concatenate([user, final, q], axis=1))
