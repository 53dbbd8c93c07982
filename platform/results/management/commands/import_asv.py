"""`manage.py import_asv PATH [--branch REF [--subdir DIR]] [--project NAME] [--machine NAME] [--no-detect]`:
import asv results as end-to-end series, one run per benchmark, param
combination, commit and environment; PATH is asv's results directory, or with
--branch a git repository whose branch holds them (read from git, no checkout).

On a terminal a progress bar shows files, results, their rate and the time
left; at the end one line sums up files, results imported, skipped and failed.
Importing again adds only what is new, and an interrupted import run again
continues where it stopped. A malformed result file is reported (path and
reason) and skipped whole; the exit status is then 1.
"""
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from results.asv_files import AsvFormatError
from results.asv_import import Progress, import_asv_results, open_source
from results.asv_source import AsvSourceError


class BarProgress(Progress):
    """tqdm bars on stderr, shown only on a terminal (tqdm's disable=None)."""

    def __init__(self):
        self.bar = None
        self.read = self.done = 0  # results read, results stored (a batch commits)
        self.started = 0.0

    def start(self, files: int) -> None:
        self.started = time.perf_counter()
        self.bar = tqdm(total=files, unit="file", desc="import", disable=None, file=sys.stderr,
                        dynamic_ncols=True, mininterval=0.5)

    def file_done(self, results: int) -> None:
        self.read += results
        self.bar.update(1)
        if self.bar.n % 20 == 0:
            self._postfix()

    def stored(self, results: int) -> None:
        self.done += results
        self._postfix()
        self.bar.refresh()

    def _postfix(self) -> None:
        rate = self.done / max(time.perf_counter() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.read:,} results read, {self.done:,} stored, {rate:,.0f} results/s",
                                 refresh=False)

    def detecting(self, series: int):
        self.close()
        self.bar = tqdm(total=series, unit="series", desc="detect", disable=None, file=sys.stderr,
                        dynamic_ncols=True, mininterval=0.5)
        return lambda done: self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    help = "Import asv results (a directory, or a git branch) as end-to-end series (runs without layers)."

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", help="asv results directory (holds benchmarks.json), or with "
                            "--branch a git repository")
        parser.add_argument("--branch", metavar="REF", help="read the results from this branch (or any ref) of "
                            "the git repository PATH, without a checkout")
        parser.add_argument("--subdir", metavar="DIR", help="with --branch: the results directory in the branch "
                            "(default: the top if it holds benchmarks.json, else results/)")
        parser.add_argument(
            "--project", metavar="NAME", help="project to file the benchmarks under (default: asv.conf.json's "
            "'project' next to the results, else 'asv'); created when missing"
        )
        parser.add_argument(
            "--machine", metavar="NAME", help="store the runs under this machine name instead of asv's "
            "(PATH must hold one asv machine); created without a token when missing"
        )
        parser.add_argument("--no-detect", action="store_true",
                            help="skip the change detection sweep over the imported series at the end")

    def handle(self, *args, path: str, branch: str | None, subdir: str | None, project: str | None,
               machine: str | None, no_detect: bool, **options):
        if subdir and not branch:
            raise CommandError("--subdir needs --branch (for a directory, give the results directory as PATH).")
        try:
            source = open_source(path, branch, subdir)
            summary = import_asv_results(source, project=project, machine=machine, detect=not no_detect,
                                         progress=BarProgress())
        except (AsvFormatError, AsvSourceError) as exc:
            raise CommandError(str(exc)) from None
        for error in summary.errors:
            self.stderr.write(f"error: {error}")
        self.stdout.write(summary.line())
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} file(s) could not be imported; nothing of them was written.")
