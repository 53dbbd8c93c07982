"""`roofwatch-agent daemon`: claim jobs, measure, spool, upload, complete.

Each loop: deliver what is pending (reports, then job completions), claim a
job and run it while a thread heartbeats its lease; with no job, run the
config's [[benchmarks]] when [schedule] interval_seconds is due (0: never,
the server's schedules decide), else sleep poll_seconds. A server that does
not answer gets exponential backoff with jitter and a log line per try,
never a crash. SIGTERM/SIGINT: no new work; a running engine may finish
within stop_grace_seconds and its report is spooled; a job stopped before
its end is given back to the server (release) so it is queued again at once;
then exit 0. What is spooled is uploaded on the next start, and a job held
when the agent died (<spool>/.held-job) is released then: by its id, or by
the lease alone when it died during the claim request (the agent chooses and
records each claim's lease before asking).

A "commits" job runs no engine: it lists base_commit..commit of [repository]
path (worktree.list_commits) and completes with that list. A "bisect" job is
measured like a commit job; its report says `"purpose": "bisect"`.

No job is claimed unless the spool has room for its report (spool_space.py);
a report that cannot be spooled fails its job with the reason. A lost lease
(409 on heartbeat) kills the job's engine run: someone else runs it now.
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
from .held_job import HeldJob
from .jobs_client import Job, JobsClient, JobsError, JobsRefused, LeaseLost, Unreachable, new_lease
from .logs import Progress
from .outbox import Outbox
from .runner import BenchmarkFailed
from .spool import Spool, SpoolError
from .spool_space import SpoolSpace
from .state import AgentState, agent_status, now_iso
from .worktree import WorktreeError, list_commits, prune_leftovers

log = logging.getLogger(LOGGER_NAME)
KIND_COMMITS = "commits"  # a job that runs no benchmark: it lists base_commit..commit of [repository]
UPLOAD_ATTEMPTS = 3
PEAKS_TIMEOUT = 600.0
STOPPING_HTTP_TIMEOUT = 5.0  # a release while stopping must fit in systemd's TimeoutStopSec


class Stopping(Exception):
    """Raised from a backoff sleep once the agent is stopping: ends a flush early."""


class AnyOf:
    """Set when any of `events` is: the engine run's cancel (stop grace over, or lease lost)."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


class Agent:
    def __init__(self, cfg: AgentConfig, *, stop: threading.Event | None = None) -> None:
        self.cfg = cfg
        self.stop = stop or threading.Event()  # no new work
        self.kill_run = threading.Event()  # kill the running engine (stop grace over)
        self.spool = Spool(cfg.spool)
        self.outbox = Outbox(self.spool)
        self.state = AgentState(self.spool.path)
        self.jobs = JobsClient(cfg.server, cfg.token)
        self.held = HeldJob(self.spool.path)
        self.space = SpoolSpace(self.spool.path, int(cfg.spool_reserve_mb * (1 << 20)))
        self.failures = 0  # consecutive failures (server unreachable, token refused, spool unwritable)
        self.last_failure = ""
        self.retry_after: float | None = None  # the server's Retry-After on its last 429/503

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
                    self.space.failed(str(e))
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
        self.spool.ensure_writable()
        if not self.space.has_room():  # never claim a job whose report could not be kept
            self.stop.wait(self.cfg.poll_seconds)
            return
        job = self.claim() if self.release_held() else None
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
            if self.retry_after is not None:  # the server knows best when it is back
                delay = max(delay, self.retry_after)
                self.retry_after = None
            log.warning("event=backoff server=%s failures=%d retry_in_s=%.1f last_error=%r",
                        self.cfg.server, self.failures, delay, self.last_failure)
            return delay
        return self.cfg.poll_seconds

    def claim(self) -> Job | None:
        """Claim under a lease chosen and recorded first: killed during the request, the
        agent releases it by the lease at its next start. Only a 204 forgets it here; after
        any other failure the next step releases it (404 there: the claim got no job)."""
        lease = new_lease()
        self.held.hold(None, lease)
        try:
            job = self.jobs.claim(self.cfg.lease_seconds, agent_status(self.spool, self.state), lease=lease)
        except Unreachable as e:
            self.failures += 1
            self.retry_after = e.retry_after
            self._error(f"claim: {e}")
            log.warning("event=claim_failed failures=%d reason=%r", self.failures, str(e))
            return None
        except JobsError as e:
            self.failures += 1  # 401 etc.: back off just the same, never spin
            self._error(f"claim refused: {e}")
            log.error("event=claim_refused reason=%r", str(e))
            return None
        self.failures = 0
        if job is None:
            self.held.clear()
        else:
            log.info("event=job_claimed job=%d kind=%s model=%s commit=%s", job.id, job.kind, job.spec.model,
                     job.commit or "-")
        return job

    # -- running ----------------------------------------------------------

    def run_job(self, job: Job) -> None:
        try:
            self.held.hold(job.id, job.lease)  # before the run: a kill -9 from here on is released at restart
        except SpoolError:
            self.release(job.id, job.lease, reason="spool_error")
            raise
        if job.kind == KIND_COMMITS:
            self.list_job_commits(job)
            return
        # its own client: a requests.Session is not shared between threads
        beat = Heartbeat(JobsClient(self.cfg.server, self.cfg.token), job, self.cfg.lease_seconds)
        beat.start()
        bar = Progress(None, f"job {job.id} {job.spec.model}")
        try:
            bar.step("measuring")
            body, conditions = measure(RunRequest.from_job(job, self.cfg), self.cfg,
                                       cancel=AnyOf(self.kill_run, beat.lost_event), stopping=self.stop)
        except MeasurementFailed as e:
            if beat.lost:
                self._dropped(job)
            elif e.cancelled:  # stopping before the job's end: queue it again now, not after its lease
                self.release(job.id, job.lease, reason="stopping")
            else:
                log.error("event=job_failed job=%d timed_out=%s error=%r", job.id, e.timed_out, str(e)[:500])
                self._fail_job(job, str(e), e.stderr_tail, e.timed_out)
            return
        finally:
            beat.stop()
            bar.close()
        if beat.lost:
            self._dropped(job)
            return
        try:
            self._spool(body, job.spec.model, {"job": {"id": job.id, "lease": job.lease}, "conditions": conditions})
        except SpoolError as e:
            self._fail_job(job, f"the agent could not spool the report ({len(body)} bytes): {e}")
            raise
        self.held.clear()

    def list_job_commits(self, job: Job) -> None:
        """A commits job: base_commit..commit of [repository] path, completed with
        {"commits": [...]} (or the reason there is none) through the outbox."""
        try:
            if self.cfg.repository is None:
                raise WorktreeError(f"a commits job needs [repository] path in {self.cfg.path}")
            commits = list_commits(self.cfg.repository, job.base_commit, job.commit)
        except WorktreeError as e:
            log.error("event=job_failed job=%d error=%r", job.id, str(e)[:500])
            self._fail_job(job, str(e))
            return
        log.info("event=commits_listed job=%d range=%s..%s commits=%d", job.id, job.base_commit, job.commit,
                 len(commits))
        self._complete(job, {"lease": job.lease, "result": {"commits": commits}})

    def _dropped(self, job: Job) -> None:
        log.warning("event=job_cancelled job=%d reason=lease_lost: the engine run was stopped, nothing is uploaded",
                    job.id)
        self.held.clear()

    def _fail_job(self, job: Job, error: str, stderr_tail: str = "", timed_out: bool = False) -> None:
        """Complete `job` as failed."""
        self._complete(job, {"lease": job.lease, "error": error[:2000], "stderr_tail": stderr_tail,
                             "timed_out": timed_out})

    def _complete(self, job: Job, entry: dict[str, Any]) -> None:
        """Complete `job` with `entry` (an outbox entry: error or result) through the outbox,
        or at once when the spool takes no writes."""
        try:
            self.outbox.put(job.id, entry)
        except SpoolError:
            try:
                if "result" in entry:
                    self.jobs.complete_result(job.id, job.lease, entry["result"])
                else:
                    self.jobs.complete_error(job.id, job.lease, entry["error"], entry["stderr_tail"],
                                             entry["timed_out"])
                log.info("event=job_completed job=%d run=-", job.id)
            except JobsError as e:  # unreachable: the held file releases it later, else its lease runs out
                log.error("event=job_completion_failed job=%d reason=%r", job.id, str(e))
                return
        self.held.clear()

    def release(self, job_id: int | None, lease: str, *, reason: str) -> bool:
        """Give a job back to the server, by the lease alone when its id is unknown (the agent
        died during the claim); False if it could not be told (try again later)."""
        timeout = STOPPING_HTTP_TIMEOUT if self.stop.is_set() else None
        try:
            released = self._give_back(job_id, lease, timeout)
        except (LeaseLost, JobsRefused) as e:  # finished, claimed by another, unknown: nothing to give back
            log.warning("event=job_release_refused job=%s reason=%r", job_id or "-", str(e))
        except JobsError as e:
            self.failures += 1
            self.retry_after = e.retry_after
            self._error(f"release of job {job_id or '(by lease)'}: {e}")
            log.warning("event=job_release_failed job=%s reason=%r: released at the next try", job_id or "-", str(e))
            return False
        else:
            if released is None:
                log.info("event=claim_lease_unused reason=%s: the interrupted claim got no job", reason)
            else:
                log.info("event=job_released job=%d reason=%s", released, reason)
        self.held.clear()
        return True

    def _give_back(self, job_id: int | None, lease: str, timeout: float | None) -> int | None:
        """The released job's id; None when released by lease and no job held it."""
        if job_id is None:
            return self.jobs.release_lease(lease, timeout=timeout)
        self.jobs.release(job_id, lease, timeout=timeout)
        return job_id

    def release_held(self) -> bool:
        """Release the job (or the lease of the claim) held when the agent last stopped or
        died, unless its outcome is already kept here (a spooled report or an outbox entry)."""
        held = self.held.read()
        if held is None:
            return True
        if held["id"] is not None and self._outcome_kept(held["id"]):
            self.held.clear()
            return True
        return self.release(held["id"], held["lease"], reason="restart" if held["id"] else "claim_interrupted")

    def _outcome_kept(self, job_id: int) -> bool:
        if any(job_id == e["job"] for _, e in self.outbox.entries()):
            return True
        return any(job_id == ((self.spool.meta(p) or {}).get("job") or {}).get("id") for p in self.spool.pending())

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
        self.space.saw_report(len(body))
        path = self.spool.put(body, key, meta=meta)
        cond = meta["conditions"]
        log.info("event=spooled key=%s model=%s path=%s loadavg_before=%s loadavg_after=%s waited_s=%s quiet=%s",
                 key, model, path, cond["loadavg_start"][0], cond["loadavg_after"][0], cond["waited_seconds"],
                 cond["quiet"])

    # -- delivering -------------------------------------------------------

    def deliver(self) -> None:
        """Upload the spool, record completions of uploaded job reports, send them."""
        try:
            self._deliver()
        except Stopping:
            log.info("event=upload_interrupted reason=stopping pending=%d", len(self.spool.pending()))

    def _deliver(self) -> None:
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
        if self.outbox.entries() and not self.stop.is_set():
            _, error = self.outbox.deliver(self.jobs)
            if error:
                self._error(error)

    def _acked(self, path, result: UploadResult) -> None:
        self.outbox.record_acked(self.spool, path, result.run_id, result.kind)

    def _rejected(self, path, message: str) -> None:
        self.outbox.record_rejected(self.spool, path, message)

    def _quarantined(self, path, reason: str) -> None:
        self.outbox.record_quarantined(self.spool, path, reason)

    def _sleep(self, seconds: float) -> None:
        """flush's backoff: once stopping, end the flush (the report stays spooled) instead of
        trying again, so SIGTERM waits for at most the one request in flight."""
        if self.stop.wait(seconds):
            raise Stopping()

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
        summary = " / ".join(ln.strip() for ln in done.stdout.splitlines() if ln.strip())[:1000]  # every roof
        self.state.update(peaks_fingerprint=fp, peaks_measured_at=time.time(), peaks=summary)
        log.info("event=peaks_measured out=%s", json.dumps(summary))


class Heartbeat:
    """Renews a job's lease every third of its length while the job runs."""

    def __init__(self, jobs: JobsClient, job: Job, lease_seconds: int) -> None:
        self.jobs, self.job = jobs, job
        self.every = max(1.0, lease_seconds / 3)
        self._done = threading.Event()
        self.lost_event = threading.Event()  # cancels the job's engine run
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.id}", daemon=True)

    @property
    def lost(self) -> bool:
        return self.lost_event.is_set()

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
                self.lost_event.set()
                log.warning("event=lease_lost job=%d reason=%r: stopping its engine run", self.job.id, str(e))
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
