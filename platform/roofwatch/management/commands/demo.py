"""The main job, end to end and for real: migrate, serve the platform, run the
engine's benchmarks through the real agent (a subprocess uploading over HTTP),
then keep serving the dashboard (or exit with --no-serve).

It also stages a real regression: a history of one benchmark whose last runs
make one layer genuinely slower with the engine's fault injection, so
detection (run after each ingest) files an alert the dashboard opens on.

And it watches a model: a model-under-test project whose local git repository
the demo makes (roofwatch.model_repo: commits of an ONNX model built with
onnx.helper, one doubling a hidden layer), one commit job per commit, run by
the real agent daemon with its own engine; the widened layer's commit gets an
alert classified as work and attributed to the model change."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, get_internal_wsgi_application

from engine.onnx_spec import ONNX_MODEL
from engine.report import UNDER_TEST_MODEL
from fleet.jobs import enqueue_commit
from fleet.models import FAILED, PENDING, Job, Machine
from regressions.models import AlertSummary
from results.models import Project, Run
from roofwatch.model_repo import MODEL_PATH, WIDENED_LAYER, git, make_model_repo

REPO = Path(settings.BASE_DIR)
# (model, batch) pairs the demo benchmarks, each `--runs` times.
DEMO_BENCHMARKS = [("mlp", 32), ("mlp", 128), ("dlrm", 128)]
# The staged regression: GOOD runs of the model, then BAD runs with the injection.
REGRESSION_MODEL, REGRESSION_BATCH = "mlp", 64
# fc2 (1024x1024 at batch 64) is compute-bound; 10x its time stands out of the 3x run-to-run
# swings a loaded shared machine shows, so the staged alert does not hang on a quiet machine.
REGRESSION_INJECT = "compute:fc2:10"
REGRESSION_RUNS = (10, 4)
# The model-under-test project: its commits, the one (0-based) that widens a layer. Detection
# needs about 6 runs before a change and 4 after on a series this short.
MODEL_PROJECT, MODEL_COMMITS, MODEL_WIDEN_AT, MODEL_BATCH = "example/ranker", 10, 6, 64


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if not self.path.startswith("/static/"):
            super().log_message(format, *args)


class Command(BaseCommand):
    help = "Run real engine benchmarks through the agent into this server, then serve the dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--runs", type=int, default=3, help="runs of each demo benchmark (default 3)")
        parser.add_argument("--repeats", type=int, default=10)
        parser.add_argument("--no-serve", action="store_true", help="do the work, print where to look, exit")
        parser.add_argument("--no-regression", action="store_true",
                            help="skip the staged regression (its history of runs takes a minute)")
        parser.add_argument("--no-model", action="store_true",
                            help=f"skip the model-under-test project ({MODEL_COMMITS} commit jobs, a minute)")

    def handle(self, *args, addr, port, runs, repeats, no_serve, no_regression, no_model, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG and not settings.WHITENOISE_USE_FINDERS:
            call_command("collectstatic", interactive=False, verbosity=0)

        server = self.start_server(addr, 0 if no_serve else port)
        url = f"http://{addr}:{server.server_port}"
        # The demo's runs name this checkout's repository: the demo machine may create its project.
        machine, _ = Machine.objects.update_or_create(name=f"demo-{socket.gethostname()}",
                                                      defaults={"may_create_projects": True})
        token = machine.rotate_token()
        self.stdout.write(f"Platform serving on {url}; benchmarking as machine '{machine.name}'")
        before = Run.objects.count()
        try:
            for model, batch in DEMO_BENCHMARKS:
                self.run_agent(url, token, model, batch, runs, repeats)
            if not no_regression:
                good, bad = REGRESSION_RUNS
                self.stdout.write(f"Staging a regression: {good} runs of {REGRESSION_MODEL}, then {bad} with "
                                  f"--inject {REGRESSION_INJECT}")
                self.run_agent(url, token, REGRESSION_MODEL, REGRESSION_BATCH, good, repeats, threads=1)
                self.run_agent(url, token, REGRESSION_MODEL, REGRESSION_BATCH, bad, repeats, threads=1,
                               inject=REGRESSION_INJECT)
            if not no_model:
                self.watch_a_model(url, machine, token, repeats)
        finally:
            if no_serve:
                server.shutdown()
        stored = Run.objects.count() - before
        latest = Run.objects.filter(machine=machine).first()
        self.stdout.write(self.style.SUCCESS(f"{stored} new runs stored ({Run.objects.count()} in all)."))
        self.stdout.write(f"  dashboard:  {url}/   ({AlertSummary.objects.count()} alert summaries)")
        if latest:
            self.stdout.write(f"  latest run: {url}/runs/{latest.pk}/")
        self.stdout.write(f"  API:        {url}/api/v1/runs/   docs: {url}/api/docs/")
        if no_serve:
            return
        self.stdout.write("Serving the dashboard; Ctrl-C to stop.")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            server.shutdown()

    def start_server(self, addr: str, port: int) -> ThreadedWSGIServer:
        try:
            server = ThreadedWSGIServer((addr, port), QuietHandler, allow_reuse_address=True)
        except OSError as exc:
            raise CommandError(f"cannot listen on {addr}:{port}: {exc.strerror} (pass --port)") from exc
        server.set_app(get_internal_wsgi_application())
        threading.Thread(target=server.serve_forever, name="demo-server", daemon=True).start()
        return server

    def watch_a_model(self, url: str, machine: Machine, token: str, repeats: int) -> None:
        """The model-under-test project: its repository (made once, kept in the data directory), a
        commit job per commit, and the agent daemon running them until none is left."""
        repo = settings.DATA_DIR / "demo-ranker"
        if not (repo / ".git").exists():
            shutil.rmtree(repo, ignore_errors=True)
            make_model_repo(repo, MODEL_COMMITS, MODEL_WIDEN_AT)
        shas = git(repo, "rev-list", "--reverse", "HEAD").split()
        repository = repo.as_uri()
        project, _ = Project.objects.update_or_create(
            repository_url=repository, defaults={"name": MODEL_PROJECT, "under_test": UNDER_TEST_MODEL})
        project.machines.add(machine)
        self.stdout.write(f"Watching a model: {len(shas)} commits of {MODEL_PATH} in {repo} "
                          f"(commit {MODEL_WIDEN_AT + 1} doubles {WIDENED_LAYER}), one commit job each")
        made = [job.pk for sha in shas for job in enqueue_commit(
            [machine], repository, sha, model=ONNX_MODEL, params={"path": MODEL_PATH, "batch": MODEL_BATCH},
            warmup=1, repeats=repeats, threads=1, timeout_seconds=300, under_test=UNDER_TEST_MODEL)]
        config = settings.DATA_DIR / "demo-agent.toml"
        # JSON strings are TOML basic strings
        config.write_text(f"server = {json.dumps(url)}\ntoken = {json.dumps(token)}\n"
                          f"spool = {json.dumps(str(settings.DATA_DIR / 'agent-spool'))}\n"
                          f"[schedule]\npoll_seconds = 0.2\n[quiet]\nmax_wait_seconds = 0\n"
                          f"[repository]\npath = {json.dumps(str(repo))}\n")
        daemon = subprocess.Popen([sys.executable, "-m", "agents.cli", "daemon", "--config", str(config)],
                                  cwd=REPO, env=self.agent_env())
        try:
            while Job.objects.filter(pk__in=made, status__in=PENDING).exists():
                if daemon.poll() is not None:
                    raise CommandError(f"the agent daemon exited ({daemon.returncode}) with jobs left")
                time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=150)
        failed = Job.objects.filter(pk__in=made, status=FAILED).first()
        if failed is not None:
            raise CommandError(f"a commit job of the model failed: {failed.error[:500]}")

    def agent_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}

    def run_agent(self, url: str, token: str, model: str, batch: int, runs: int, repeats: int,
                  threads: int | None = None, inject: str | None = None) -> None:
        self.stdout.write(f"Agent: {runs} runs of {model} at batch {batch} ...")
        cmd = [
            sys.executable, "-m", "agents.cli", "run-once", "--server", url, "--token", token,
            "--model", model, "--batch", str(batch), "--repeats", str(repeats), "--count", str(runs),
            "--spool", str(settings.DATA_DIR / "agent-spool"),
            "--max-wait", "0",  # measure at once (the load is still recorded): a demo must not sit waiting for quiet
            *(["--threads", str(threads)] if threads else []),
            *(["--inject", inject] if inject else []),
        ]
        done = subprocess.run(cmd, cwd=REPO, env=self.agent_env())
        if done.returncode != 0:
            raise CommandError(f"the agent failed (exit {done.returncode}) running {model} at batch {batch}")
