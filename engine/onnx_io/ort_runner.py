"""Running an exported graph in onnxruntime beside the engine: sessions with
a fixed thread count and a one-off run. Latency races against the engine run
each runtime in its own process: engine/onnx_io/process_race.py."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping

import numpy as np
import onnx
import onnxruntime as ort


def ort_session(model: onnx.ModelProto, threads: int | None = None,
                config: Mapping[str, str] | None = None, *, profile: bool = False) -> ort.InferenceSession:
    """A CPUExecutionProvider session at full graph optimization; `threads`
    sets intra_op_num_threads (inter-op stays sequential, as the engine is);
    `config` holds session config entries ("session.disable_quant_qdq": "1").
    `profile` turns onnxruntime's profiler on; its trace is thrown away when
    the process exits."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings about folded initializers
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    if profile:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="roofwatch-ort-trace-"), "trace")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    if profile:
        atexit.register(_drop_trace, session, os.path.dirname(options.profile_file_prefix))
    return session


def _drop_trace(session: ort.InferenceSession, folder: str) -> None:
    session.end_profiling()
    shutil.rmtree(folder, ignore_errors=True)


def run_ort(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray], threads: int | None = None,
            config: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    session = ort_session(model, threads, config)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(inputs)), strict=False))
