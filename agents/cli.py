"""`roofwatch-agent`: run benchmarks, spool their reports, upload them.

    roofwatch-agent register --server URL --enroll-token T [--name NAME] [--config PATH]
    roofwatch-agent daemon [--config PATH]
    roofwatch-agent run-once [--config PATH]                 (the config's [[benchmarks]])
    roofwatch-agent run-once --server URL --token TOKEN --model NAME [--count K] ...
    roofwatch-agent flush [--config PATH | --server URL --token TOKEN]
    roofwatch-agent status [--config PATH | --spool DIR]
    roofwatch-agent requeue [--config PATH | --spool DIR] [KEY ...]   (quarantined reports back in the queue)
    roofwatch-agent ci-check --server URL --token T --commit SHA [--wait S] [--threshold PCT]
                                                          (exit 0 clean, 1 regressed, 2 could not tell)

Exit status: 0 when every report was uploaded; 1 when a report is still
spooled (server down, token refused), was rejected by the server, or a run
failed; 2 for usage errors (bad arguments, unknown model).

--server and --token fall back to $ROOFWATCH_SERVER and $ROOFWATCH_TOKEN (a
token in the environment stays out of `ps`), then to the config file;
--spool falls back to $ROOFWATCH_SPOOL, the config's `spool`, then
$XDG_DATA_HOME/roofwatch/spool (~/.local/share/...). The config is --config,
else $ROOFWATCH_AGENT_CONFIG, else $XDG_CONFIG_HOME/roofwatch/agent.toml.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from engine.argtypes import int_at_least
from engine.onnx_spec import ONNX_MODEL, is_onnx

from . import LOGGER_NAME, logs
from .client import QUARANTINE_AFTER, FlushSummary, Outcome, flush
from .config import AgentConfig, BenchmarkSpec, ConfigError, default_config_path, default_spool_path, load_config
from .cycle import measure_to_spool
from .execute import MeasurementFailed, RunRequest
from .outbox import Outbox
from .runner import DEFAULT_TIMEOUT
from .spool import Spool, SpoolError
from .state import AgentState, now_iso

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "roofwatch-agent"


def default_spool() -> Path:
    return default_spool_path()


def _seconds(text: str, *, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (value > 0 or (allow_zero and value == 0)):
        kind = "non-negative" if allow_zero else "positive"
        raise argparse.ArgumentTypeError(f"expected a {kind} number of seconds, got {text}")
    return value


def _wait_seconds(text: str) -> float:
    return _seconds(text, allow_zero=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="roofwatch fleet agent")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step, not only retries and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config_opt = argparse.ArgumentParser(add_help=False)
    config_opt.add_argument("--config", type=Path, default=None,
                            help="agent config (default: $ROOFWATCH_AGENT_CONFIG or ~/.config/roofwatch/agent.toml)")

    spool_opt = argparse.ArgumentParser(add_help=False, parents=[config_opt])
    spool_opt.add_argument("--spool", type=Path, default=None,
                           help="spool directory (default: $ROOFWATCH_SPOOL, the config's spool, "
                                "or ~/.local/share/roofwatch/spool)")

    upload_opts = argparse.ArgumentParser(add_help=False)
    upload_opts.add_argument("--server", default=os.environ.get("ROOFWATCH_SERVER"),
                             help="platform URL, e.g. https://roofwatch.example.com (default: $ROOFWATCH_SERVER)")
    upload_opts.add_argument("--token", default=os.environ.get("ROOFWATCH_TOKEN"),
                             help="this machine's agent token (default: $ROOFWATCH_TOKEN)")
    upload_opts.add_argument("--max-attempts", type=int_at_least(1), default=5,
                             help="tries per report before leaving it spooled (default 5)")

    reg = sub.add_parser("register", parents=[config_opt],
                         help="exchange an enrollment token for this machine's token and write the config")
    reg.add_argument("--server", required=True, help="platform URL, e.g. https://roofwatch.example.com")
    reg.add_argument("--enroll-token", required=True, help="from `manage.py enroll_token` on the server")
    reg.add_argument("--name", help="this machine's name in the fleet (default: the host name)")
    reg.set_defaults(func=cmd_register)

    dm = sub.add_parser("daemon", parents=[config_opt],
                        help="claim and run the server's jobs (and the config's schedule) until stopped")
    dm.set_defaults(func=cmd_daemon)

    run = sub.add_parser("run-once", parents=[spool_opt, upload_opts],
                         help="run a model's (or the config's) benchmarks, spool the reports, upload everything")
    run.add_argument("--model", help="benchmark model name (the engine lists them); "
                                     "without it, the config's [[benchmarks]] run")
    run.add_argument("--batch", type=int_at_least(1))
    run.add_argument("--repeats", type=int_at_least(1))
    run.add_argument("--warmup", type=int_at_least(0))
    run.add_argument("--threads", type=int_at_least(1), help="BLAS threads for the engine (with --model)")
    run.add_argument("--inject", action="append", default=[], metavar="KIND:LAYER:FACTOR",
                     help="with --model: make a layer genuinely slower (engine fault injection, for "
                          "testing detection); repeatable")
    run.add_argument("--count", type=int_at_least(1), default=1, help="runs of the model (default 1)")
    run.add_argument("--engine-timeout", type=_seconds, default=DEFAULT_TIMEOUT,
                     help=f"seconds one engine run may take (default {DEFAULT_TIMEOUT:g})")
    run.add_argument("--max-wait", type=_wait_seconds, default=None, metavar="SECONDS",
                     help="wait at most this long for a quiet machine (default: the config's [quiet] "
                          "max_wait_seconds, 300); 0 measures at once, the load still recorded")
    run.set_defaults(func=cmd_run_once)

    fl = sub.add_parser("flush", parents=[spool_opt, upload_opts], help="upload the pending reports")
    fl.set_defaults(func=cmd_flush)

    st = sub.add_parser("status", parents=[spool_opt],
                        help="show the spool's depth, rejected reports, last upload and last error")
    st.set_defaults(func=cmd_status)

    rq = sub.add_parser("requeue", parents=[spool_opt],
                        help="put quarantined reports back in the upload queue (all, or the KEYs given)")
    rq.add_argument("keys", nargs="*", metavar="KEY", help="a quarantined report's key (its file name less .json)")
    rq.set_defaults(func=cmd_requeue)

    ci = sub.add_parser("ci-check", parents=[config_opt],
                        help="wait for a commit's results; exit 1 if it regressed (0 clean, 2 could not tell)")
    ci.add_argument("--server", default=os.environ.get("ROOFWATCH_SERVER"),
                    help="platform URL (default: $ROOFWATCH_SERVER)")
    ci.add_argument("--token", default=os.environ.get("ROOFWATCH_TOKEN"),
                    help="an agent token (default: $ROOFWATCH_TOKEN)")
    ci.add_argument("--commit", required=True, help="the full commit id to check")
    ci.add_argument("--wait", type=_seconds, default=1800, help="seconds to wait for results (default 1800)")
    ci.add_argument("--threshold", type=float, default=0.0, metavar="PCT",
                    help="fail only on regressions of at least PCT percent (default 0: any alert)")
    ci.add_argument("--poll", type=_seconds, default=10, help="seconds between polls (default 10)")
    ci.add_argument("--settle", type=float, default=30,
                    help="seconds the run count must stay unchanged, with no job pending, before the "
                         "alerts are read: detection's time (default 30)")
    ci.set_defaults(func=cmd_ci_check)
    return parser


def _setup_logging(verbose: bool, fmt: str = "text") -> None:
    logs.setup(fmt, verbose)


def _load(args: argparse.Namespace, *, required: bool) -> AgentConfig | None:
    """The config file, or None when it is not there and not asked for by name."""
    path = args.config or default_config_path()
    if not required and args.config is None and not path.exists():
        return None
    return load_config(path)


def _resolve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> AgentConfig | None:
    """Fill --server/--token/--spool from the config where not given."""
    needs_upload = hasattr(args, "server") and args.command != "register"
    wants_config = args.command in ("daemon",) or (args.command == "run-once" and args.model is None)
    missing = needs_upload and not (args.server and args.token)
    cfg = _load(args, required=wants_config or (missing and args.config is not None))
    if cfg is None and missing:
        cfg = _load(args, required=False)
    if needs_upload:
        args.server = args.server or (cfg.server if cfg else None)
        args.token = args.token or (cfg.token if cfg else None)
        for name, env in (("server", "ROOFWATCH_SERVER"), ("token", "ROOFWATCH_TOKEN")):
            if not getattr(args, name):
                parser.error(f"--{name} is required (or set ${env}, or give a config with `roofwatch-agent register`)")
    if hasattr(args, "spool") and args.spool is None:
        args.spool = Path(os.environ["ROOFWATCH_SPOOL"]) if os.environ.get("ROOFWATCH_SPOOL") else (
            cfg.spool if cfg else default_spool())
    return cfg


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.cfg = _resolve(args, parser) if args.command != "register" else None
    except ConfigError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_USAGE
    _setup_logging(args.verbose or args.command == "daemon", args.cfg.log_format if args.cfg else "text")
    try:
        return args.func(args, sys.stdout, sys.stderr)
    except (SpoolError, ConfigError) as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; spooled reports stay in {getattr(args, 'spool', '')}", file=sys.stderr)
        return 130


def cmd_register(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .register import RegistrationFailed, current_token, default_name, machine_fingerprint, register, store_token

    path = (args.config or default_config_path()).expanduser()
    name = args.name or default_name()
    try:
        token = register(args.server, args.enroll_token, name, machine_fingerprint(),
                         current=current_token(path, args.server))
    except RegistrationFailed as e:
        print(f"{PROG}: {e}", file=err)
        return EXIT_FAILED
    store_token(path, args.server, token, name)
    print(f"registered as {name!r} with {args.server}; token stored in {path} (mode 0600)", file=out)
    return EXIT_OK


def cmd_daemon(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .daemon import Agent, install_signal_handlers

    agent = Agent(args.cfg)
    install_signal_handlers(agent)
    return agent.run()


def cmd_run_once(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Measure as the daemon does (quiet wait, pinning, conditions): `--model`
    K times, uploading after each run, or the config's [[benchmarks]]."""
    if args.model is None:
        return _run_configured(args, out, err)
    if is_onnx(args.model):
        print(f"{PROG}: --model {ONNX_MODEL} needs params.path (the file in the repository): give it as a "
              f"[[benchmarks]] entry of the config and run `run-once --config FILE` without --model", file=err)
        return EXIT_USAGE
    cfg = _measurement_config(args)
    spool = Spool(args.spool)
    spool.ensure_writable()  # fail now, not after a long benchmark
    req = _request(BenchmarkSpec(args.model, inject=list(args.inject)), cfg, args)
    rejected = 0
    for i in range(1, args.count + 1):
        try:
            path = measure_to_spool(spool, req, cfg)
        except MeasurementFailed as e:
            if e.usage_error:
                print(e.stderr_tail or str(e), file=err)
                return EXIT_USAGE
            print(f"{PROG}: run {i}/{args.count}: {e}", file=err)
            # Reports of earlier runs still pending get one more try.
            _report(_flush(spool, args), spool, out, err)
            return EXIT_FAILED
        logging.getLogger(LOGGER_NAME).info("run %d/%d of %s spooled as %s", i, args.count, args.model, path)
        summary = _flush(spool, args)
        _report(summary, spool, out, err)
        rejected += len(summary.rejected) + len(summary.quarantined)
        if summary.stopped is not None and summary.stopped.stops_flush:
            return EXIT_FAILED  # wrong token or URL: later runs could not upload either
    return EXIT_OK if rejected == 0 and summary.remaining == 0 else EXIT_FAILED


def _measurement_config(args: argparse.Namespace) -> AgentConfig:
    """The config's measurement rules (its defaults without a config file), with --max-wait."""
    cfg = args.cfg or AgentConfig(path=Path("(no config file)"), server=args.server, token=args.token)
    return cfg if args.max_wait is None else replace(cfg, max_wait_seconds=args.max_wait)


def _request(spec: BenchmarkSpec, cfg: AgentConfig, args: argparse.Namespace) -> RunRequest:
    """`spec` resolved against the config, then the command line's overrides."""
    req = RunRequest.from_spec(spec, cfg, threads=args.threads)
    return replace(req, batch=args.batch, repeats=args.repeats or req.repeats,
                   warmup=args.warmup if args.warmup is not None else req.warmup,
                   timeout=args.engine_timeout if args.engine_timeout != DEFAULT_TIMEOUT else req.timeout)


def _run_configured(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """run-once without --model: each [[benchmarks]] entry once (times --count)."""
    cfg = _measurement_config(args)
    if not cfg.benchmarks:
        print(f"{PROG}: {cfg.path} has no [[benchmarks]]; add one or give --model", file=err)
        return EXIT_USAGE
    if args.batch is not None or args.threads is not None or args.inject:
        print(f"{PROG}: --batch, --threads and --inject need --model; the config's benchmarks set theirs",
              file=err)
        return EXIT_USAGE
    spool = Spool(args.spool)
    spool.ensure_writable()
    failed = 0
    bar = logs.Progress(len(cfg.benchmarks) * args.count, "benchmarks")
    try:
        for spec in cfg.benchmarks * args.count:
            bar.step(spec.model)
            try:
                measure_to_spool(spool, _request(spec, cfg, args), cfg)
            except MeasurementFailed as e:
                failed += 1
                print(f"{PROG}: {spec.model}: {e}", file=err)
                continue
            bar.advance()
    finally:
        bar.close()
    summary = _flush(spool, args)
    _report(summary, spool, out, err)
    return EXIT_OK if failed == 0 and summary.ok else EXIT_FAILED


def cmd_flush(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    spool = Spool(args.spool)
    summary = _flush(spool, args)
    _report(summary, spool, out, err)
    if not summary.uploaded and summary.ok:
        print(f"nothing to upload in {spool.path}", file=out)
    return EXIT_OK if summary.ok else EXIT_FAILED


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    spool = Spool(args.spool, create=False)
    st = spool.status()
    state = AgentState(spool.path).read()
    if args.cfg is not None:
        print(f"config: {args.cfg.path} (server {args.cfg.server})", file=out)
    print(f"spool: {st.path}", file=out)
    if st.oldest is not None:
        when = st.oldest_time.isoformat(timespec="seconds") if st.oldest_time else "?"
        print(f"pending: {st.pending} (oldest: {st.oldest.name}, spooled {when})", file=out)
    else:
        print("pending: 0", file=out)
    print(f"rejected: {st.rejected}" + (f" (in {st.path / 'rejected'})" if st.rejected else ""), file=out)
    print(f"job completions to send: {len(Outbox(spool))}", file=out)
    if state.get("last_upload"):
        print(f"last upload: {state['last_upload']} ({state.get('last_upload_run', '?')})", file=out)
    else:
        print("last upload: never", file=out)
    if state.get("last_error"):
        print(f"last error: {state.get('last_error_at', '?')}: {state['last_error']}", file=out)
    else:
        print("last error: none", file=out)
    if state.get("peaks_measured_at"):
        when = datetime.fromtimestamp(float(state["peaks_measured_at"]), timezone.utc).isoformat(timespec="seconds")
        print(f"peaks: measured {when}", file=out)
    _print_quarantine(spool, out)
    return EXIT_OK


QUARANTINE_LISTED = 10


def _print_quarantine(spool: Spool, out: TextIO) -> None:
    """The quarantine's count, its oldest entry and each report's reason."""
    held = spool.quarantined()
    completions = Outbox(spool).quarantined()
    if not held and not completions:
        print("quarantined: 0", file=out)
        return
    noted = sorted((Spool.note(p).partition("\n"), p) for p in held)  # ("quarantined at T", "\n", reason)
    oldest = f" (oldest: {noted[0][1].name}, {noted[0][0][0]})" if noted else ""
    print(f"quarantined: {len(held)}{oldest} in {spool.quarantine_path}; "
          f"`{PROG} requeue` puts them back", file=out)
    for (_, _, reason), path in noted[:QUARANTINE_LISTED]:
        print(f"  {Spool.key_of(path)}: {reason.strip() or '(no note)'}", file=out)
    if len(noted) > QUARANTINE_LISTED:
        print(f"  ... and {len(noted) - QUARANTINE_LISTED} more", file=out)
    if completions:
        print(f"quarantined job completions: {len(completions)} in {completions[0].parent}", file=out)


def cmd_requeue(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    spool = Spool(args.spool, create=False)
    unknown = set(args.keys) - {Spool.key_of(p) for p in spool.quarantined()}
    if unknown:
        print(f"{PROG}: not in {spool.quarantine_path}: {', '.join(sorted(unknown))}", file=err)
        return EXIT_USAGE
    moved = spool.requeue(args.keys or None)
    print(f"requeued {len(moved)} report(s) into {spool.path}; the next flush uploads them", file=out)
    return EXIT_OK


def cmd_ci_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .ci_check import Api, check

    return check(Api(args.server, args.token), args.commit, wait=args.wait, threshold_pct=args.threshold,
                 poll=args.poll, settle=args.settle, out=out, err=err)


def _flush(spool: Spool, args: argparse.Namespace) -> FlushSummary:
    outbox = Outbox(spool)
    summary = flush(spool, args.server, args.token, max_attempts=args.max_attempts,
                    quarantine_after=args.cfg.quarantine_after if args.cfg else QUARANTINE_AFTER,
                    on_acked=lambda path, result: outbox.record_acked(spool, path, result.run_id, result.kind),
                    on_rejected=lambda path, message: outbox.record_rejected(spool, path, message),
                    on_quarantined=lambda path, reason: outbox.record_quarantined(spool, path, reason))
    if outbox.entries():  # the daemon's job reports, uploaded here: tell the server their jobs are done
        from .jobs_client import JobsClient

        jobs = JobsClient(args.server, args.token)
        try:
            outbox.deliver(jobs)
        finally:
            jobs.close()
    state = AgentState(spool.path)
    if summary.uploaded:
        state.update(last_upload=now_iso(), last_upload_run=summary.uploaded[-1].url)
    if summary.last_error:
        state.update(last_error=summary.last_error[:1000], last_error_at=now_iso())
    return summary


def _report(summary: FlushSummary, spool: Spool, out: TextIO, err: TextIO) -> None:
    """One line per uploaded run on stdout; what went wrong, and where the
    reports are, on stderr."""
    for up in summary.uploaded:
        print(f"run {up.run_id}: {up.url}" + ("" if up.created else " (already uploaded)"), file=out)
    for path, message in summary.rejected:
        note = path.with_name(Spool.key_of(path) + ".error.txt")
        print(f"{PROG}: the server rejected a report: {message}\n  report moved to {path}, reason in {note}",
              file=err)
    for path, reason in summary.quarantined:
        print(f"{PROG}: a report was quarantined: {reason}\n  moved to {path}; `{PROG} requeue` puts it back",
              file=err)
    if summary.stopped is not None and summary.stopped.stops_flush:
        print(f"{PROG}: {summary.last_error}", file=err)
    if summary.remaining:
        why = f": {summary.last_error}" if summary.stopped is Outcome.RETRY else ""
        print(f"{PROG}: {summary.remaining} report(s) remain spooled in {spool.path}{why}; "
              f"`{PROG} flush` uploads them later", file=err)


if __name__ == "__main__":
    sys.exit(main())
