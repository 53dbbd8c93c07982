"""`manage.py import_asv PATH [--project NAME] [--machine NAME] [--no-detect]`:
import an asv results directory (asv.conf.json's results_dir) as end-to-end
series, one run per benchmark, param combination, commit and environment.

Importing again adds only what is new. A malformed result file is reported
(file and problem) and skipped whole; the exit status is then 1.
"""
from django.core.management.base import BaseCommand, CommandError

from results.asv_import import AsvFormatError, import_asv_results


class Command(BaseCommand):
    help = "Import an asv results directory as end-to-end series (runs without layers)."

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH", help="asv results directory (holds benchmarks.json)")
        parser.add_argument(
            "--project", metavar="NAME", help="project to file the benchmarks under (default: asv.conf.json's "
            "'project' next to PATH, else 'asv'); created when missing"
        )
        parser.add_argument(
            "--machine", metavar="NAME", help="store the runs under this machine name instead of asv's "
            "(PATH must hold one asv machine); created without a token when missing"
        )
        parser.add_argument(
            "--no-detect", action="store_true", help="do not send run_ingested for the new runs (no change detection)"
        )

    def handle(self, *args, path: str, project: str | None, machine: str | None, no_detect: bool, **options):
        try:
            summary = import_asv_results(path, project=project, machine=machine, notify=not no_detect)
        except AsvFormatError as exc:
            raise CommandError(str(exc)) from None
        for error in summary.errors:
            self.stderr.write(f"error: {error}")
        self.stdout.write(
            f"{summary.files} result files: {summary.created} runs imported, {summary.existing} already there, "
            f"{summary.skipped} measurements skipped (failed or not a time benchmark)."
        )
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} file(s) could not be imported; nothing of them was written.")
