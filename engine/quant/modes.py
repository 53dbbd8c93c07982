"""The registry of --quant modes and the graph transform.

A request is at most one dense mode and at most one embedding mode,
comma-separated ("int8,int8-rowwise-emb"); `resolve_quant` turns the text into
a QuantRequest whose `text` (dense first, then embedding) is what
config.quant records, so one request always reads the same.

`apply_quant(graph, request, calibration_inputs=..., keep_fp32=...)` replaces
every quantizable node 1:1 by a quantized node of the same name and outputs
(so the lineage the passes computed carries over), drops the initializers no
longer read and validates the result. A mode that finds nothing to quantize
in a model is a no-op (QuantResult.noop; the report lists it in
config.flags["quant_noop"]), not an error.

int8-static needs calibration: the fp32 graph runs on calibration inputs and
the input activation of every node to quantize is collected into a 2048-bin
histogram (engine.quant.collect); its amax comes from the requested method.
Activations that are never negative (engine.quant.ranges) get unsigned
quantization, which doubles their resolution.

Tolerances (`tolerance(request)`, checked for every small zoo model with
and without passes in tests/engine/test_quant_zoo.py): the max abs error of
the quantized graph's outputs against fp32, as a fraction of the fp32
outputs' max abs value, on held-out synthetic inputs. They are about 2-3x the
worst case measured on the small zoo models (in brackets), and bounds for
these synthetic models with random weights, not promises for trained ones:

  fp16 0.005 (0.0006)   int8 0.05 (0.020)   int8-per-tensor 0.05 (0.021)
  int8-outlier 0.06 (0.027)
  int8-static (calibrated on >= 512 samples, engine.quant.accuracy.calibration_inputs):
    minmax 0.06 (0.022), percentile 0.06 (0.028), kl 0.25 (0.11): KL clips
    long tails by design, and it clips the heavy-tailed DotInteraction
    output of dlrm to ~15% of its max, which moves the worst output a lot
    even where the mean error stays small (quant-sweep finds top.fc1 as the
    layer to keep in fp32)
  int8-rowwise-emb 0.005 (0.0009)   int4-rowwise-emb 0.06 (0.024)
  a dense and an embedding mode together: the sum of the two.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.ir import Graph, Node, topological_order, validate
from engine.quant import dense, ranges, rowwise_nodes
from engine.quant.collect import calibrate_amax

NONE = "none"
DENSE, EMBEDDING = "dense", "embedding"


@dataclass(frozen=True)
class QuantMode:
    name: str
    family: str  # DENSE | EMBEDDING
    help: str
    tolerance: float  # max abs error / max abs fp32 output, see the module docstring


MODES: dict[str, QuantMode] = {m.name: m for m in (
    QuantMode("fp16", DENSE, "fp16 weights, fp32 accumulation", 0.005),
    QuantMode("int8", DENSE, "int8 per-channel weights, dynamic per-tensor activation scales, int32 accumulation",
              0.05),
    QuantMode("int8-per-tensor", DENSE, "int8 with one weight scale per tensor", 0.05),
    QuantMode("int8-static", DENSE, "int8 per-channel weights, static activation scales from calibration "
                                    "(--calibration)", 0.06),  # percentile; STATIC_TOLERANCES per method
    QuantMode("int8-outlier", DENSE, "int8 per-channel weights plus the largest weights kept in fp32 "
                                     "(W = W_main + W_outlier; Conv layers get plain per-channel int8)", 0.06),
    QuantMode("int8-rowwise-emb", EMBEDDING, "embedding tables as 8-bit rows with a per-row scale and bias", 0.005),
    QuantMode("int4-rowwise-emb", EMBEDDING, "embedding tables as 4-bit rows with a per-row scale and bias", 0.06),
)}
TOLERANCES: dict[str, float] = {name: mode.tolerance for name, mode in MODES.items()}
STATIC_TOLERANCES = {"minmax": 0.06, "percentile": 0.06, "kl": 0.25}
STATIC = "int8-static"
EMBEDDING_BITS = {"int8-rowwise-emb": 8, "int4-rowwise-emb": 4}
CALIBRATION_METHODS = ("minmax", "percentile", "kl")
# Percentile by default: on full-size dlrm it kept max abs error at 0.080 (AUC agreement 0.996)
# where KL, which clips long tails by design, gave 0.35 (0.984); see the module docstring.
DEFAULT_CALIBRATION = "percentile"


class QuantError(ValueError):
    """A quantization request that cannot be carried out; the message says why."""


class UnknownQuantError(QuantError):
    """A --quant (or --calibration) value that is not registered; the message lists the valid ones."""


def valid_quant_text() -> str:
    dense = ", ".join(n for n, m in MODES.items() if m.family == DENSE)
    emb = ", ".join(n for n, m in MODES.items() if m.family == EMBEDDING)
    return f"'none', a dense mode ({dense}), an embedding mode ({emb}), or one of each comma-separated"


@dataclass(frozen=True)
class QuantRequest:
    dense: str | None = None
    embedding: str | None = None
    calibration: str | None = None  # set exactly when dense is int8-static

    @property
    def modes(self) -> list[str]:
        return [m for m in (self.dense, self.embedding) if m]

    @property
    def text(self) -> str:
        """The canonical spelling config.quant records."""
        return ",".join(self.modes) or NONE

    @property
    def is_none(self) -> bool:
        return not self.modes


def resolve_quant(text: str | QuantRequest | None, calibration: str | None = None) -> QuantRequest:
    """'none' (or '' / None), one mode, or a dense and an embedding mode
    comma-separated, in either order. `calibration` (minmax, percentile, kl)
    applies to int8-static only and defaults to percentile there."""
    if isinstance(text, QuantRequest):
        return text
    names = [part.strip() for part in (text or "").split(",") if part.strip()]
    if names in ([], [NONE]):
        if calibration is not None:
            raise UnknownQuantError(f"--calibration {calibration} given without --quant {STATIC}; "
                                    f"calibration applies to {STATIC} only")
        return QuantRequest()
    unknown = [n for n in names if n not in MODES]
    if unknown:
        raise UnknownQuantError(f"unknown quant mode(s) {', '.join(map(repr, unknown))} in {text!r}; "
                                f"valid: {valid_quant_text()}")
    picked: dict[str, str] = {}
    for name in names:
        family = MODES[name].family
        if family in picked:
            raise UnknownQuantError(f"--quant {text!r} asks for two {family} modes ({picked[family]}, {name}); "
                                    f"give at most one dense and one embedding mode")
        picked[family] = name
    dense = picked.get(DENSE)
    if calibration is not None and calibration not in CALIBRATION_METHODS:
        raise UnknownQuantError(f"unknown calibration method {calibration!r}; valid: "
                                f"{', '.join(CALIBRATION_METHODS)}")
    if calibration is not None and dense != STATIC:
        raise UnknownQuantError(f"--calibration {calibration} given with --quant {text}; calibration applies "
                                f"to {STATIC} only (the other modes need no calibration data)")
    if dense == STATIC:
        calibration = calibration or DEFAULT_CALIBRATION
    return QuantRequest(dense=dense, embedding=picked.get(EMBEDDING), calibration=calibration)


def tolerance(request: QuantRequest) -> float:
    """The documented bound on max abs error / max abs fp32 output (module docstring)."""
    total = 0.0
    for mode in request.modes:
        static = mode == STATIC
        total += STATIC_TOLERANCES[request.calibration or DEFAULT_CALIBRATION] if static else TOLERANCES[mode]
    return total


@dataclass(frozen=True)
class QuantResult:
    graph: Graph
    requested: str  # QuantRequest.text
    quantized_layers: list[str]  # graph order
    noop: list[str]  # requested modes that found nothing to quantize here
    fp32_layers: list[str] = field(default_factory=list)  # quantizable layers kept in fp32 on request
    calibration: str | None = None


def quantizable_layers(graph: Graph, request: QuantRequest) -> dict[str, str]:
    """node name -> the requested mode that would quantize it, in graph order."""
    found: dict[str, str] = {}
    if request.dense:
        found.update((node.name, request.dense) for node in graph.nodes if dense.quantizable(graph, node))
    if request.embedding:
        found.update((node.name, request.embedding) for node in graph.nodes
                     if node.name not in found and rowwise_nodes.quantizable_embedding(graph, node))
    return {node.name: found[node.name] for node in graph.nodes if node.name in found}


def _check_keep(keep_fp32: Iterable[str], candidates: Mapping[str, str], request: QuantRequest) -> list[str]:
    keep = list(dict.fromkeys(keep_fp32))
    unknown = [n for n in keep if n not in candidates]
    if unknown:
        listing = ", ".join(candidates) or "none in this model"
        raise QuantError(f"--quant-fp32 names {', '.join(map(repr, unknown))}, which --quant {request.text} would "
                         f"not quantize; the quantizable layers are: {listing}")
    return keep


def _drop_unused(initializers: Mapping[str, np.ndarray], nodes: Sequence[Node],
                 outputs: Sequence[str]) -> dict[str, np.ndarray]:
    used = {t for node in nodes for t in node.inputs} | set(outputs)
    return {name: arr for name, arr in initializers.items() if name in used}


def quantize_layers(graph: Graph, layers: Mapping[str, str], *,
                    act_amax: Mapping[str, float] | None = None, fake: bool = False) -> Graph:
    """Replace the named layers (name -> mode) 1:1; act_amax (input tensor ->
    amax) is the static calibration for dense layers, None for dynamic scales."""
    replaced: dict[str, Node] = {}
    initializers = dict(graph.initializers)
    for node in graph.nodes:
        mode = layers.get(node.name)
        if mode is None:
            continue
        if MODES[mode].family == EMBEDDING:
            new, inits = rowwise_nodes.quantize_embedding_node(graph, node, EMBEDDING_BITS[mode])
        else:
            amax = None
            if mode == STATIC:
                amax = (act_amax or {}).get(node.inputs[0])
                if amax is None:
                    raise QuantError(f"layer {node.name!r}: no calibrated range for its input {node.inputs[0]!r}")
                amax = amax if amax > 0 else 1.0  # an input that was all zeros in calibration: any scale holds 0
            new, inits = dense.quantize_node(
                graph, node, "int8" if mode == STATIC else mode, act_amax=amax,
                act_unsigned=ranges.nonnegative(graph, node.inputs[0]), fake=fake)
        if new.name != node.name or tuple(new.outputs) != tuple(node.outputs):
            raise QuantError(f"layer {node.name!r}: quantizing it changed its name or outputs")
        clash = sorted(k for k, v in inits.items() if k in initializers and not (
            initializers[k].dtype == v.dtype and np.array_equal(initializers[k], v)))  # a shared weight may repeat
        if clash:
            raise QuantError(f"layer {node.name!r}: new initializer(s) {', '.join(clash)} already exist")
        initializers.update(inits)
        replaced[node.name] = new
    nodes = tuple(replaced.get(node.name, node) for node in graph.nodes)
    out = Graph(graph.name, graph.inputs, _drop_unused(initializers, nodes, graph.outputs), nodes, graph.outputs)
    validate(out)
    return out


def apply_quant(
    graph: Graph,
    request: str | QuantRequest | None,
    *,
    calibration_inputs: Sequence[Mapping[str, np.ndarray]] = (),
    keep_fp32: Iterable[str] = (),
    fake: bool = False,
) -> QuantResult:
    """Quantize every layer the request covers except `keep_fp32` (names of
    quantizable layers; anything else is a QuantError listing them).
    int8-static calibrates on `calibration_inputs` (CalibrationError when
    there are none); the other modes ignore them."""
    request = resolve_quant(request)
    if request.is_none:
        if list(keep_fp32):
            raise QuantError("--quant-fp32 given without --quant; there is nothing to keep in fp32")
        return QuantResult(graph, request.text, [], [])
    order = topological_order(graph)
    if order != graph.nodes:
        graph = Graph(graph.name, graph.inputs, graph.initializers, order, graph.outputs)
    candidates = quantizable_layers(graph, request)
    keep = _check_keep(keep_fp32, candidates, request)
    targets = {name: mode for name, mode in candidates.items() if name not in keep}
    noop = [mode for mode in request.modes if mode not in candidates.values()]
    act_amax = None
    static = [graph.node(name).inputs[0] for name, mode in targets.items() if mode == STATIC]
    if static:
        act_amax = calibrate_amax(graph, static, calibration_inputs, request.calibration or DEFAULT_CALIBRATION)
    quantized = quantize_layers(graph, targets, act_amax=act_amax, fake=fake) if targets else graph
    return QuantResult(quantized, request.text, list(targets), noop, keep, request.calibration)


__all__ = ["CALIBRATION_METHODS", "DEFAULT_CALIBRATION", "MODES", "QuantError", "QuantMode", "QuantRequest",
           "QuantResult", "STATIC_TOLERANCES", "TOLERANCES", "UnknownQuantError", "apply_quant",
           "quantizable_layers", "quantize_layers", "resolve_quant", "tolerance", "valid_quant_text"]
