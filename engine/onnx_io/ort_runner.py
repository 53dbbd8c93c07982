"""Running an exported graph in onnxruntime beside the engine: sessions with
a fixed thread count and a one-off run. Latency races against the engine run
each runtime in its own process: engine/onnx_io/process_race.py."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
import onnxruntime as ort


def ort_session(model: onnx.ModelProto, threads: int | None = None,
                config: Mapping[str, str] | None = None) -> ort.InferenceSession:
    """A CPUExecutionProvider session at full graph optimization; `threads`
    sets intra_op_num_threads (inter-op stays sequential, as the engine is);
    `config` holds session config entries ("session.disable_quant_qdq": "1")."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings about folded initializers
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run_ort(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray], threads: int | None = None,
            config: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    session = ort_session(model, threads, config)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(inputs)), strict=False))
