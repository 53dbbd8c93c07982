"""Racing runtimes fairly: each runner in its own process, one at a time.

Two runtimes in one process fight: their thread pools share the cores, and
onnxruntime's and OpenBLAS's workers spin after a call while the other
runtime works (mlp at batch 256, 2 threads: onnxruntime 7.8 ms alone, 14.5 to
17.9 ms raced in-process). So each runner here lives in a worker process of
its own that builds its model once from a picklable RunnerSpec, under its own
thread limits (set in its environment before numpy, onnxruntime or torch
load, then by threadpoolctl, intra_op_num_threads and torch.set_num_threads),
and runs passes only when told.
The parent hands out blocks of passes in turn, so at any moment only one
runtime runs; the idle workers sleep in a blocking read of their pipe. A
block starts only once the previous worker's pool threads have stopped
spinning (see wait_until_idle) and opens with one untimed pass (caches);
blocks alternate so that slow drift in machine load hits every runner alike.

A worker's failure comes back as its own exception, with the worker's
traceback added as a note (or as RaceWorkerError when it cannot be sent); a
worker that dies or stays silent past `timeout_s` is killed and named. The
workers are always killed on the way out.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from engine.malloc_tuning import steady_env

# "ort-profiled": onnxruntime with its profiler on, as the onnxruntime backend's profiled passes
# (benchmarks/ort_profile_overhead.py races it against plain "ort")
RUNTIMES = ("engine", "ort", "torch", "ort-profiled")
DEFAULT_TIMEOUT_S = 600.0  # one answer: a build, or one block of passes
# Thread-count variables read when a library loads, before threadpoolctl can act.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
STOP_GRACE_S = 5.0
# After its passes a worker's pool threads spin on (OpenBLAS about 100 ms, onnxruntime about 30 ms): the
# next runner waits until the worker uses under IDLE_SHARE of a core over IDLE_WINDOW_S, at most SETTLE_MAX_S
# (or sleeps SETTLE_MAX_S where /proc cannot tell).
IDLE_WINDOW_S = 0.005
IDLE_SHARE = 0.05
SETTLE_MAX_S = 0.5


class RaceWorkerError(RuntimeError):
    """A race worker failed, died or stayed silent; the message names it."""


@dataclass(frozen=True)
class RunnerSpec:
    """What one worker builds: the zoo model `model` with `params`, then
    `passes` and `quant` as the CLI spells them, run by `runtime` ("engine";
    "ort": onnxruntime on the graph's ONNX export; "torch": PyTorch eager,
    engine/onnx_io/torch_runner.py, which needs torch installed and takes
    the graph before passes) on the inputs of `seed`, with `threads`
    threads. `onnx_file` (then `model` is only its label) builds the
    engine or onnxruntime runner from that file instead of the zoo, its
    inputs synthesized as `run --onnx` does (`params["input_ranges"]`, as
    its report names them), at `params["batch"]` when given. `cores`, when given, pins the worker process to those CPUs
    before anything starts a thread (every pool thread inherits it). An engine worker keeps freed memory in the heap
    (`keep_heap_memory()`, as every engine run does) unless
    `keep_heap` is False: then it leaves glibc's malloc as a fresh process
    has it. onnxruntime and torch always keep glibc's defaults."""
    runtime: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)
    threads: int = 1
    seed: int = 0
    passes: str | None = None
    quant: str | None = None
    keep_heap: bool = True
    cores: tuple[int, ...] | None = None
    onnx_file: str | None = None

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.cores is not None and (not self.cores or any(c < 0 for c in self.cores)):
            raise ValueError(f"cores must be a non-empty set of CPU numbers, got {self.cores!r}")


@dataclass(frozen=True)
class Samples:
    """Seconds of each timed pass of one runner, and the minor page faults
    its process took in them (every thread; None where not counted)."""
    times_s: tuple[float, ...]
    minor_faults: int | None = None

    @property
    def faults_per_pass(self) -> float | None:
        return None if self.minor_faults is None else self.minor_faults / len(self.times_s)

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.times_s, q))

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    @property
    def iqr(self) -> float:
        return self.quantile(0.75) - self.quantile(0.25)

    def text(self) -> str:
        """'12.345 ms (p25-p75 12.100-12.900)'."""
        return (f"{self.median * 1e3:.3f} ms (p25-p75 {self.quantile(0.25) * 1e3:.3f}-"
                f"{self.quantile(0.75) * 1e3:.3f})")


@dataclass(frozen=True)
class Window:
    """One worker's timed passes run alongside the others (`RaceWorkers.run_together`):
    their seconds, minor faults, and when the first began and the last ended
    (time.perf_counter, CLOCK_MONOTONIC: one clock for every process on Linux)."""
    times_s: tuple[float, ...]
    minor_faults: int
    start: float
    end: float


@dataclass(frozen=True)
class RaceResult:
    samples: dict[str, Samples]
    repeats: int
    threads: dict[str, int]
    load_before: float | None  # 1-minute load average, None where the OS has none
    load_after: float | None

    def ratio(self, a: str, b: str) -> float:
        """Median of a over median of b."""
        return self.samples[a].median / self.samples[b].median

    def load_text(self) -> str:
        return f"load average (1 min) {load_text(self.load_before)} before, {load_text(self.load_after)} after"


def load_average() -> float | None:
    """The 1-minute load average, None where the OS keeps none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def load_text(load: float | None) -> str:
    return "n/a" if load is None else f"{load:.2f}"


def cpu_seconds(pid: int) -> float | None:
    """CPU time of every thread of process `pid` so far (Linux), or None."""
    total, read = 0, 0
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that just ended
                with open(f"{task.path}/schedstat") as f:
                    total += int(f.read().split()[0])
                    read += 1
    except OSError:
        return None
    return total / 1e9 if read else None  # no schedstat: a kernel without scheduler statistics


def wait_until_idle(pid: int) -> None:
    """Return once process `pid` stops using the CPU (see IDLE_SHARE)."""
    deadline = time.perf_counter() + SETTLE_MAX_S
    before = cpu_seconds(pid)
    if before is None:
        time.sleep(SETTLE_MAX_S)
        return
    while time.perf_counter() < deadline:
        time.sleep(IDLE_WINDOW_S)
        now = cpu_seconds(pid)
        if now is None or now - before < IDLE_SHARE * IDLE_WINDOW_S:
            return
        before = now


def block_sizes(repeats: int, blocks: int) -> list[int]:
    """`repeats` timed passes cut into at most `blocks` blocks of near-equal size."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    n = min(blocks, repeats)
    return [repeats // n + (i < repeats % n) for i in range(n)]


class _Worker:
    """The parent's handle on one worker process and its pipe."""

    def __init__(self, name: str, spec: RunnerSpec, timeout_s: float):
        self.name, self.spec, self.timeout_s = name, spec, timeout_s
        ours, theirs = socket.socketpair()
        env = steady_env() if spec.runtime == "engine" and spec.keep_heap else dict(os.environ)
        env.update({var: str(spec.threads) for var in THREAD_ENV})
        # the worker imports the same engine as this process, wherever it runs from
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        code = f"from engine.onnx_io.process_race import serve; serve({theirs.fileno()})"
        if spec.cores is not None:  # before numpy and the runtimes start their pools: every thread inherits it
            code = f"import os; os.sched_setaffinity(0, {sorted(spec.cores)!r}); {code}"
        try:
            self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),), env=env,
                                            stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    def ask(self, message: tuple, timeout_s: float | None = None) -> Any:
        """Send `message` and wait for the answer, surfacing the worker's failure."""
        self.send(message)
        return self.answer(timeout_s)

    def send(self, message: tuple) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # gone: answer() says so
            self.conn.send(message)

    def answer(self, timeout_s: float | None = None) -> Any:
        """Wait for the answer to what was sent, surfacing the worker's failure."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        try:
            ready = self.conn.poll(timeout_s)
        except (BrokenPipeError, ConnectionResetError):
            ready = True  # the worker is gone; recv below says so
        if not ready:
            self.kill()
            raise RaceWorkerError(f"race worker {self.name!r} ({self.spec.runtime} {self.spec.model}) gave no "
                                  f"answer in {timeout_s:g} s; killed it")
        try:
            kind, payload = self.conn.recv()
        except (EOFError, ConnectionResetError):
            try:
                code = self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.kill()
                code = self.process.returncode
            raise RaceWorkerError(f"race worker {self.name!r} ({self.spec.runtime} {self.spec.model}) died "
                                  f"with exit status {code}") from None
        if kind == "ok":
            wait_until_idle(self.process.pid)  # its threads may spin on after answering
            return payload
        error, text = payload
        if error is None:
            raise RaceWorkerError(f"race worker {self.name!r} ({self.spec.runtime} {self.spec.model}) "
                                  f"failed:\n{text}")
        error.add_note(f"in race worker {self.name!r} ({self.spec.runtime} {self.spec.model}):\n{text}")
        raise error

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.conn.close()

    def close(self) -> None:
        """Ask the worker to stop; kill it if it does not in a few seconds."""
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class RaceWorkers:
    """One worker process per named RunnerSpec, each built and run once on
    entering (so `first_pass_s` holds each runner's first, cold pass);
    `race` then alternates blocks of passes among them, as often as asked.

        with RaceWorkers({"ours": ..., "ort": ...}) as workers:
            result = workers.race(repeats=20, warmup=3)
    """

    def __init__(self, specs: Mapping[str, RunnerSpec], *, timeout_s: float = DEFAULT_TIMEOUT_S):
        if not specs:
            raise ValueError("a race needs at least one runner")
        self.specs = dict(specs)
        self.timeout_s = timeout_s
        self.workers: dict[str, _Worker] = {}
        self.first_pass_s: dict[str, float] = {}

    def __enter__(self) -> RaceWorkers:
        try:
            # processes start together (their imports overlap); builds run one at a time
            for name, spec in self.specs.items():
                self.workers[name] = _Worker(name, spec, self.timeout_s)
            for name, worker in self.workers.items():
                self.first_pass_s[name] = worker.ask(("build", worker.spec))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()

    def race(self, *, repeats: int = 20, warmup: int = 3, blocks: int = 5) -> RaceResult:
        """`repeats` timed passes of each runner, in `blocks` turns of
        each (every turn waits for the last worker to go idle and opens
        with one untimed pass), after `warmup`
        untimed passes of each."""
        if warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {warmup}")
        sizes = block_sizes(repeats, blocks)
        load_before = load_average()
        try:
            for worker in self.workers.values():
                if warmup:
                    worker.ask(("run", warmup, 0))
            times: dict[str, list[float]] = {name: [] for name in self.workers}
            faults = dict.fromkeys(self.workers, 0)
            for size in sizes:
                for name, worker in self.workers.items():
                    block_times, block_faults = worker.ask(("run", 1, size))
                    times[name].extend(block_times)
                    faults[name] += block_faults
        except BaseException:
            self.close()
            raise
        return RaceResult(samples={name: Samples(tuple(t), faults[name]) for name, t in times.items()},
                          repeats=repeats,
                          threads={name: spec.threads for name, spec in self.specs.items()},
                          load_before=load_before, load_after=load_average())


    def run_together(self, *, repeats: int, warmup: int) -> dict[str, Window]:
        """Every worker runs `warmup` untimed then `repeats` timed passes at
        the same time (the sweep's instances sharing the machine, as a
        deployment's would), not in turns as `race` does."""
        if repeats < 1 or warmup < 0:
            raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
        try:
            for worker in self.workers.values():
                worker.send(("window", warmup, repeats))
            return {name: Window(*worker.answer()) for name, worker in self.workers.items()}
        except BaseException:
            self.close()
            raise


def race_processes(specs: Mapping[str, RunnerSpec], *, repeats: int = 20, warmup: int = 3, blocks: int = 5,
                   timeout_s: float = DEFAULT_TIMEOUT_S) -> RaceResult:
    """Race the runners of `specs`, each in its own process (see RaceWorkers)."""
    block_sizes(repeats, blocks)  # bad counts fail before any process starts
    with RaceWorkers(specs, timeout_s=timeout_s) as workers:
        return workers.race(repeats=repeats, warmup=warmup, blocks=blocks)


def engine_vs_ort(model: str, params: Mapping[str, Any], threads: int, seed: int = 0,
                  passes: str | None = None) -> dict[str, RunnerSpec]:
    """The usual pair: "ours" (the engine, after `passes` when given) and
    "ort" (onnxruntime on the unoptimized model's ONNX export, with its own
    full graph optimization), same model, inputs and thread count."""
    return {"ours": RunnerSpec("engine", model, dict(params), threads, seed, passes=passes),
            "ort": RunnerSpec("ort", model, dict(params), threads, seed)}


# --- the worker side ---------------------------------------------------------------------------------

def build_runner(spec: RunnerSpec) -> Callable[[], object]:
    """One forward pass of the spec's model in its runtime, ready to call."""
    from engine.executor import check_inputs, execute, make_plan
    from engine.models import build_model
    from engine.passes import run_passes
    from engine.quant.accuracy import calibration_inputs
    from engine.quant.modes import apply_quant, resolve_quant

    model = _onnx_model(spec) if spec.onnx_file else build_model(spec.model, **spec.params)
    graph = model.graph
    if spec.passes:
        graph = run_passes(graph, spec.passes).graph
    if spec.quant:
        graph = apply_quant(graph, resolve_quant(spec.quant),
                            calibration_inputs=calibration_inputs(model.make_inputs)).graph
    inputs = model.make_inputs(spec.seed)
    if spec.runtime == "engine":
        plan = make_plan(graph)
        check_inputs(plan, inputs)
        return lambda: execute(plan, inputs)
    if spec.runtime == "torch":
        from engine.onnx_io.torch_runner import torch_runner

        return torch_runner(graph, inputs, spec.threads)
    from engine.onnx_io.export_graph import export_onnx
    from engine.onnx_io.ort_runner import ort_session

    session = ort_session(export_onnx(graph), spec.threads, profile=spec.runtime == "ort-profiled")
    feed = dict(inputs)
    return lambda: session.run(None, feed)


def _onnx_model(spec: RunnerSpec):
    """The spec's ONNX file as `run --onnx` imports it (engine.onnx_io.commands)."""
    from engine.models import Model
    from engine.onnx_io.import_graph import import_onnx
    from engine.onnx_io.onnx_inputs import synthesize_inputs

    graph = import_onnx(spec.onnx_file, batch=spec.params.get("batch"))
    ranges = {name: tuple(bounds) for name, bounds in spec.params.get("input_ranges", {}).items()}
    return Model(name=spec.model, params=dict(spec.params), graph=graph,
                 make_inputs=lambda seed=0: synthesize_inputs(graph, seed, ranges))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _minor_faults() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _timed(fn: Callable[[], object], untimed: int, timed: int) -> tuple[list[float], int]:
    """Seconds of each timed pass, and the minor page faults taken across them."""
    times, faults, _, _ = _timed_window(fn, untimed, timed)
    return times, faults


def _timed_window(fn: Callable[[], object], untimed: int, timed: int) -> tuple[list[float], int, float, float]:
    """_timed's answer plus when the timed passes began and ended."""
    clock = time.perf_counter
    times = []
    with _no_gc():
        for _ in range(untimed):
            fn()
        faults = _minor_faults()
        start = clock()
        for _ in range(timed):
            t0 = clock()
            fn()
            times.append(clock() - t0)
        end = clock()
        faults = _minor_faults() - faults
    return times, faults, start, end


def _error_payload(error: BaseException) -> tuple[BaseException | None, str]:
    text = "".join(traceback.format_exception(error))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # noqa: BLE001 - any exception may fail to pickle; the text still goes
        return None, text
    return error, text


def serve(fd: int) -> None:
    """A worker's loop: build on ("build", spec), answer ("run", untimed,
    timed) with the timed passes' seconds and their minor faults, leave on ("stop",) or when the
    parent's end closes. Blocks on the pipe between commands."""
    import signal

    from threadpoolctl import threadpool_limits

    from engine.malloc_tuning import keep_heap_memory

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C is the parent's to handle: it stops the workers
    conn = Connection(fd)
    fn: Callable[[], object] | None = None
    limits = None  # held for the worker's life
    while True:
        try:
            message = conn.recv()
        except (EOFError, ConnectionResetError):
            return  # the parent is gone
        if message[0] == "stop":
            return
        try:
            if message[0] == "build":
                spec: RunnerSpec = message[1]
                limits = threadpool_limits(limits=spec.threads, user_api="blas")
                if spec.runtime == "engine" and spec.keep_heap:
                    keep_heap_memory()  # as every engine run does; onnxruntime keeps its own defaults
                fn = build_runner(spec)
                answer: tuple = ("ok", _timed(fn, 0, 1)[0][0])
            elif message[0] == "run" and fn is not None:
                answer = ("ok", _timed(fn, message[1], message[2]))
            elif message[0] == "window" and fn is not None:
                answer = ("ok", _timed_window(fn, message[1], message[2]))
            else:
                raise RaceWorkerError(f"race worker: unexpected command {message[0]!r}")
        except Exception as error:  # noqa: BLE001 - every failure goes back to the parent
            answer = ("error", _error_payload(error))
        try:
            conn.send(answer)
        except OSError:
            return  # the parent is gone
