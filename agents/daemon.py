"""`roofwatch-agent daemon`: claim jobs, measure, spool, upload, complete.

Each loop: deliver what is pending (reports, then job completions), claim a
job and run it while a thread heartbeats its lease; with no job, run the
config's [[benchmarks]] when [schedule] interval_seconds is due (0: never,
the server's schedules decide), else sleep poll_seconds. A server that does
not answer gets exponential backoff with jitter and a log line per try,
never a crash. SIGTERM/SIGINT: no new work; a running engine may finish
within stop_grace_seconds and its report is spooled; then exit 0. What is
spooled is uploaded on the next start.
"""
from __future__ import annotations

import json
import logging
import signal
import threading
import time
from typing import Any

from . import LOGGER_NAME
from .client import UploadResult, backoff_delay, flush
from .config import AgentConfig
from .cycle import report_key
from .execute import MeasurementFailed, RunRequest, measure
from .jobs_client import Job, JobsClient, JobsError, JobsRefused, LeaseLost, Unreachable
from .logs import Progress
from .outbox import Outbox
from .runner import BenchmarkFailed
from .spool import Spool, SpoolError
from .state import AgentState, agent_status, now_iso
from .worktree import prune_leftovers

log = logging.getLogger(LOGGER_NAME)
UPLOAD_ATTEMPTS = 3
PEAKS_TIMEOUT = 600.0


class Agent:
    def __init__(self, cfg: AgentConfig, *, stop: threading.Event | None = None) -> None:
        self.cfg = cfg
        self.stop = stop or threading.Event()  # no new work
        self.kill_run = threading.Event()  # kill the running engine (stop grace over)
        self.spool = Spool(cfg.spool)
        self.outbox = Outbox(self.spool)
        self.state = AgentState(self.spool.path)
        self.jobs = JobsClient(cfg.server, cfg.token)
        self.failures = 0  # consecutive failures (server unreachable, token refused, spool unwritable)
        self.last_failure = ""

    # -- the loop -----------------------------------------------------------

    def run(self) -> int:
        self.spool.ensure_writable()
        self.spool.remove_orphan_meta()
        prune_leftovers(self.cfg.repository)  # worktrees a crashed agent left behind
        log.info("event=daemon_started server=%s spool=%s pending=%d", self.cfg.server, self.spool.path,
                 len(self.spool.pending()))
        self.maybe_refresh_peaks()
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                except SpoolError as e:  # disk full, permissions: what is spooled stays; retry later
                    self.failures += 1
                    self._error(str(e))
                    log.error("event=spool_error error=%r: no new runs until the spool takes writes", str(e))
                    self.stop.wait(self.idle_delay())
        finally:
            self.jobs.close()
        log.info("event=daemon_stopped pending=%d", len(self.spool.pending()))
        return 0

    def step(self) -> None:
        self.deliver()
        if self.stop.is_set():
            return
        self.spool.ensure_writable()  # never claim a job whose report could not be kept
        job = self.claim()
        if job is not None:
            self.run_job(job)
        elif self.local_round_due():
            self.run_local_round()
        else:
            self.stop.wait(self.idle_delay())

    def idle_delay(self) -> float:
        if self.failures:
            cap = self.cfg.max_backoff_seconds
            delay = min(cap, max(1.0, backoff_delay(self.failures - 1, self.cfg.poll_seconds, cap)))
            log.warning("event=backoff server=%s failures=%d retry_in_s=%.1f last_error=%r",
                        self.cfg.server, self.failures, delay, self.last_failure)
            return delay
        return self.cfg.poll_seconds

    def claim(self) -> Job | None:
        try:
            job = self.jobs.claim(self.cfg.lease_seconds, agent_status(self.spool, self.state))
        except Unreachable as e:
            self.failures += 1
            self._error(f"claim: {e}")
            log.warning("event=claim_failed failures=%d reason=%r", self.failures, str(e))
            return None
        except JobsError as e:
            self.failures += 1  # 401 etc.: back off just the same, never spin
            self._error(f"claim refused: {e}")
            log.error("event=claim_refused reason=%r", str(e))
            return None
        self.failures = 0
        if job is not None:
            log.info("event=job_claimed job=%d kind=%s model=%s commit=%s", job.id, job.kind, job.spec.model,
                     job.commit or "-")
        return job

    # -- running ----------------------------------------------------------

    def run_job(self, job: Job) -> None:
        # its own client: a requests.Session is not shared between threads
        beat = Heartbeat(JobsClient(self.cfg.server, self.cfg.token), job, self.cfg.lease_seconds)
        beat.start()
        bar = Progress(None, f"job {job.id} {job.spec.model}")
        try:
            bar.step("measuring")
            body, conditions = measure(RunRequest.from_job(job, self.cfg), self.cfg,
                                       cancel=self.kill_run, stopping=self.stop)
        except MeasurementFailed as e:
            if e.cancelled:  # stopped past the grace period: the lease runs out and the job is claimed again
                log.warning("event=job_abandoned job=%d reason=stopping", job.id)
                return
            log.error("event=job_failed job=%d timed_out=%s error=%r", job.id, e.timed_out, str(e)[:500])
            self.outbox.put(job.id, {"lease": job.lease, "error": str(e)[:2000], "stderr_tail": e.stderr_tail,
                                     "timed_out": e.timed_out})
            return
        finally:
            beat.stop()
            bar.close()
        self._spool(body, job.spec.model, {"job": {"id": job.id, "lease": job.lease}, "conditions": conditions})

    def local_round_due(self) -> bool:
        if not self.cfg.benchmarks or self.cfg.interval_seconds <= 0:
            return False
        last = self.state.read().get("last_local_round", 0)
        return time.time() - float(last) >= self.cfg.interval_seconds

    def run_local_round(self) -> None:
        bar = Progress(len(self.cfg.benchmarks), "benchmarks")
        try:
            for spec in self.cfg.benchmarks:
                if self.stop.is_set():
                    return
                bar.step(spec.model)
                try:
                    body, conditions = measure(RunRequest.from_spec(spec, self.cfg), self.cfg,
                                               cancel=self.kill_run, stopping=self.stop)
                except MeasurementFailed as e:
                    if not e.cancelled:
                        self._error(f"{spec.model}: {e}")
                        log.error("event=run_failed model=%s error=%r", spec.model, str(e)[:500])
                    continue
                self._spool(body, spec.model, {"job": None, "conditions": conditions})
                bar.advance()
        finally:
            bar.close()
        if not self.stop.is_set():
            self.state.update(last_local_round=time.time())

    def _spool(self, body: bytes, model: str, meta: dict[str, Any]) -> None:
        try:
            key = report_key(body, model=model)
        except BenchmarkFailed as e:
            self._error(str(e))
            log.error("event=bad_report model=%s error=%r", model, str(e))
            if meta["job"]:
                self.outbox.put(meta["job"]["id"], {"lease": meta["job"]["lease"], "error": str(e)[:2000],
                                                    "stderr_tail": "", "timed_out": False})
            return
        path = self.spool.put(body, key, meta=meta)
        cond = meta["conditions"]
        log.info("event=spooled key=%s model=%s path=%s loadavg_before=%s loadavg_after=%s waited_s=%s quiet=%s",
                 key, model, path, cond["loadavg_start"][0], cond["loadavg_after"][0], cond["waited_seconds"],
                 cond["quiet"])

    # -- delivering -------------------------------------------------------

    def deliver(self) -> None:
        """Upload the spool, record completions of uploaded job reports, send them."""
        if self.spool.pending():
            summary = flush(self.spool, self.cfg.server, self.cfg.token, max_attempts=UPLOAD_ATTEMPTS,
                            base_delay=1.0, max_delay=30.0, sleep=self._sleep,
                            on_acked=self._acked, on_rejected=self._rejected,
                            quarantine_after=self.cfg.quarantine_after, on_quarantined=self._quarantined)
            if summary.uploaded:
                last = summary.uploaded[-1]
                self.state.update(last_upload=now_iso(), last_upload_run=last.url)
                self.failures = 0
            if summary.last_error:
                self._error(summary.last_error)
            if summary.remaining:
                self.failures += 1
                log.warning("event=upload_postponed pending=%d reason=%r", summary.remaining, summary.last_error)
        if self.outbox.entries():
            _, error = self.outbox.deliver(self.jobs)
            if error:
                self._error(error)

    def _acked(self, path, result: UploadResult) -> None:
        self.outbox.record_acked(self.spool, path, result.run_id)

    def _rejected(self, path, message: str) -> None:
        self.outbox.record_rejected(self.spool, path, message)

    def _quarantined(self, path, reason: str) -> None:
        self.outbox.record_quarantined(self.spool, path, reason)

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _error(self, message: str) -> None:
        self.last_failure = message[:300]
        self.state.update(last_error=message[:1000], last_error_at=now_iso())

    # -- peaks ------------------------------------------------------------

    def maybe_refresh_peaks(self) -> None:
        """Re-measure the roofline peaks when the hardware fingerprint changed
        (or was never seen) and every [peaks] refresh_hours."""
        import subprocess

        from .register import machine_fingerprint
        from .runner import ENGINE_COMMAND

        st = self.state.read()
        fp = machine_fingerprint()
        age = time.time() - float(st.get("peaks_measured_at", 0))
        hours = self.cfg.peaks_refresh_hours
        if st.get("peaks_fingerprint") == fp and not (hours > 0 and age >= hours * 3600):
            return
        reason = "fingerprint" if st.get("peaks_fingerprint") != fp else "schedule"
        cmd = [*(tuple(self.cfg.engine) or ENGINE_COMMAND), "peaks", "--remeasure"]
        log.info("event=peaks_refresh reason=%s", reason)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=PEAKS_TIMEOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            log.error("event=peaks_failed error=%r", str(e))
            return
        if done.returncode != 0:
            log.error("event=peaks_failed code=%d stderr=%r", done.returncode, done.stderr[-500:])
            return
        self.state.update(peaks_fingerprint=fp, peaks_measured_at=time.time(),
                          peaks=" / ".join(ln.strip() for ln in done.stdout.splitlines()[:2]))
        log.info("event=peaks_measured %s", " ".join(f"{k}={json.dumps(v)}" for k, v in
                                                     {"out": done.stdout.strip().splitlines()[:2]}.items()))


class Heartbeat:
    """Renews a job's lease every third of its length while the job runs."""

    def __init__(self, jobs: JobsClient, job: Job, lease_seconds: int) -> None:
        self.jobs, self.job = jobs, job
        self.every = max(1.0, lease_seconds / 3)
        self._done = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self.jobs.close()

    def _loop(self) -> None:
        while not self._done.wait(self.every):
            try:
                self.jobs.heartbeat(self.job)
                log.info("event=heartbeat job=%d", self.job.id)
            except LeaseLost as e:
                self.lost = True
                log.warning("event=lease_lost job=%d reason=%r: the report is kept, its completion will be refused",
                            self.job.id, str(e))
                return
            except (Unreachable, JobsRefused) as e:
                log.warning("event=heartbeat_failed job=%d reason=%r", self.job.id, str(e))


def install_signal_handlers(agent: Agent) -> None:
    """SIGTERM/SIGINT: stop taking work; kill a running engine after the grace period."""

    def handle(signum: int, frame: Any) -> None:
        if agent.stop.is_set():
            agent.kill_run.set()  # a second signal: stop now
            return
        log.warning("event=stopping signal=%s grace_s=%g", signal.Signals(signum).name, agent.cfg.stop_grace_seconds)
        agent.stop.set()
        timer = threading.Timer(agent.cfg.stop_grace_seconds, agent.kill_run.set)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
