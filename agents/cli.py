"""`roofwatch-agent`: run benchmarks, spool their reports, upload them.

    roofwatch-agent run-once --server URL --token TOKEN --model NAME [--count K] ...
    roofwatch-agent flush --server URL --token TOKEN
    roofwatch-agent status

Exit status: 0 when every report was uploaded; 1 when a report is still
spooled (server down, token refused), was rejected by the server, or a run
failed; 2 for usage errors (bad arguments, unknown model).

--server and --token fall back to $ROOFWATCH_SERVER and $ROOFWATCH_TOKEN (a
token in the environment stays out of `ps`); --spool falls back to
$ROOFWATCH_SPOOL, then $XDG_DATA_HOME/roofwatch/spool (~/.local/share/...).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from engine.argtypes import int_at_least

from . import LOGGER_NAME
from .client import FlushSummary, Outcome, flush
from .cycle import run_to_spool
from .runner import DEFAULT_TIMEOUT, BenchmarkFailed
from .spool import Spool, SpoolError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "roofwatch-agent"


def default_spool() -> Path:
    if os.environ.get("ROOFWATCH_SPOOL"):
        return Path(os.environ["ROOFWATCH_SPOOL"])
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "roofwatch" / "spool"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="roofwatch fleet agent")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step, not only retries and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    spool_opt = argparse.ArgumentParser(add_help=False)
    spool_opt.add_argument("--spool", type=Path, default=None,
                           help="spool directory (default: $ROOFWATCH_SPOOL or ~/.local/share/roofwatch/spool)")

    upload_opts = argparse.ArgumentParser(add_help=False)
    upload_opts.add_argument("--server", default=os.environ.get("ROOFWATCH_SERVER"),
                             help="platform URL, e.g. https://roofwatch.example.com (default: $ROOFWATCH_SERVER)")
    upload_opts.add_argument("--token", default=os.environ.get("ROOFWATCH_TOKEN"),
                             help="this machine's agent token (default: $ROOFWATCH_TOKEN)")
    upload_opts.add_argument("--max-attempts", type=int_at_least(1), default=5,
                             help="tries per report before leaving it spooled (default 5)")

    run = sub.add_parser("run-once", parents=[spool_opt, upload_opts],
                         help="run a model's benchmark, spool the report, upload everything pending")
    run.add_argument("--model", required=True, help="benchmark model name (the engine lists them)")
    run.add_argument("--batch", type=int_at_least(1))
    run.add_argument("--repeats", type=int_at_least(1))
    run.add_argument("--warmup", type=int_at_least(0))
    run.add_argument("--count", type=int_at_least(1), default=1, help="runs of the model (default 1)")
    run.add_argument("--engine-timeout", type=_seconds, default=DEFAULT_TIMEOUT,
                     help=f"seconds one engine run may take (default {DEFAULT_TIMEOUT:g})")
    run.set_defaults(func=cmd_run_once)

    fl = sub.add_parser("flush", parents=[spool_opt, upload_opts], help="upload the pending reports")
    fl.set_defaults(func=cmd_flush)

    st = sub.add_parser("status", parents=[spool_opt], help="show the spool's depth and rejected reports")
    st.set_defaults(func=cmd_status)
    return parser


def _setup_logging(verbose: bool) -> None:
    # A no-op when the host program (or pytest) already configured logging.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO if verbose else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.spool is None:
        args.spool = default_spool()
    if hasattr(args, "server"):
        for name, env in (("server", "ROOFWATCH_SERVER"), ("token", "ROOFWATCH_TOKEN")):
            if not getattr(args, name):
                parser.error(f"--{name} is required (or set ${env})")
    _setup_logging(args.verbose)
    try:
        return args.func(args, sys.stdout, sys.stderr)
    except SpoolError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; spooled reports stay in {args.spool}", file=sys.stderr)
        return 130


def cmd_run_once(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    spool = Spool(args.spool)
    spool.ensure_writable()  # fail now, not after a long benchmark
    log = logging.getLogger(LOGGER_NAME)
    rejected = 0
    for i in range(1, args.count + 1):
        try:
            path = run_to_spool(spool, args.model, batch=args.batch, repeats=args.repeats,
                                warmup=args.warmup, timeout=args.engine_timeout)
        except BenchmarkFailed as e:
            if e.is_usage_error:
                print(e.stderr_tail or str(e), file=err)
                return EXIT_USAGE
            print(f"{PROG}: run {i}/{args.count}: {e}", file=err)
            # Reports of earlier runs still pending get one more try.
            _report(_flush(spool, args), spool, out, err)
            return EXIT_FAILED
        log.info("run %d/%d of %s spooled as %s", i, args.count, args.model, path)
        summary = _flush(spool, args)
        _report(summary, spool, out, err)
        rejected += len(summary.rejected)
        if summary.stopped is not None and summary.stopped.stops_flush:
            return EXIT_FAILED  # wrong token or URL: later runs could not upload either
    return EXIT_OK if rejected == 0 and summary.remaining == 0 else EXIT_FAILED


def cmd_flush(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    spool = Spool(args.spool)
    summary = _flush(spool, args)
    _report(summary, spool, out, err)
    if not summary.uploaded and summary.ok:
        print(f"nothing to upload in {spool.path}", file=out)
    return EXIT_OK if summary.ok else EXIT_FAILED


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    st = Spool(args.spool, create=False).status()
    print(f"spool: {st.path}", file=out)
    if st.oldest is not None:
        when = st.oldest_time.isoformat(timespec="seconds") if st.oldest_time else "?"
        print(f"pending: {st.pending} (oldest: {st.oldest.name}, spooled {when})", file=out)
    else:
        print("pending: 0", file=out)
    print(f"rejected: {st.rejected}" + (f" (in {st.path / 'rejected'})" if st.rejected else ""), file=out)
    return EXIT_OK


def _flush(spool: Spool, args: argparse.Namespace) -> FlushSummary:
    return flush(spool, args.server, args.token, max_attempts=args.max_attempts)


def _report(summary: FlushSummary, spool: Spool, out: TextIO, err: TextIO) -> None:
    """One line per uploaded run on stdout; what went wrong, and where the
    reports are, on stderr."""
    for up in summary.uploaded:
        print(f"run {up.run_id}: {up.url}" + ("" if up.created else " (already uploaded)"), file=out)
    for path, message in summary.rejected:
        note = path.with_name(Spool.key_of(path) + ".error.txt")
        print(f"{PROG}: the server rejected a report: {message}\n  report moved to {path}, reason in {note}",
              file=err)
    if summary.stopped is not None and summary.stopped.stops_flush:
        print(f"{PROG}: {summary.last_error}", file=err)
    if summary.remaining:
        why = f": {summary.last_error}" if summary.stopped is Outcome.RETRY else ""
        print(f"{PROG}: {summary.remaining} report(s) remain spooled in {spool.path}{why}; "
              f"`{PROG} flush` uploads them later", file=err)


if __name__ == "__main__":
    sys.exit(main())
