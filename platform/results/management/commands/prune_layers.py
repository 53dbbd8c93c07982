"""`manage.py prune_layers [--older-than DAYS] [--dry-run] [--batch-size N]`:
roll up and seal the days before the cutoff, then delete the per-layer rows of
runs older than DAYS (default ROOFWATCH_RAW_RETENTION_DAYS, rounded down to a
UTC midnight), keeping the runs, their end-to-end statistics and the daily
rollups. Deletes in short batches by id range; safe to interrupt and run again."""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from results.retention import DEFAULT_BATCH_SIZE, prune_layers


class Command(BaseCommand):
    help = ("Roll up, then delete layer measurements of runs older than DAYS "
            "(runs, end-to-end stats and daily rollups are kept).")

    def add_arguments(self, parser):
        parser.add_argument("--older-than", metavar="DAYS", type=float, default=None,
                            help="age in days of the oldest runs whose layers are kept "
                                 f"(default ROOFWATCH_RAW_RETENTION_DAYS, now {settings.ROOFWATCH_RAW_RETENTION_DAYS})")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, change nothing")
        parser.add_argument("--batch-size", metavar="N", type=int, default=DEFAULT_BATCH_SIZE,
                            help=f"ids per DELETE statement (default {DEFAULT_BATCH_SIZE})")

    def handle(self, *args, older_than: float | None, dry_run: bool, batch_size: int, **options):
        try:
            result = prune_layers(older_than, dry_run=dry_run, batch_size=batch_size)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        when = result.cutoff.isoformat(timespec="seconds")
        if result.dry_run:
            self.stdout.write(
                f"Dry run: would roll up and seal {result.sealed} days, then delete {result.layers} layer rows "
                f"of {result.runs} runs started before {when}; runs and rollups are kept."
            )
        else:
            self.stdout.write(
                f"Rolled up and sealed {result.sealed} days; deleted {result.layers} layer rows of {result.runs} "
                f"runs started before {when} in {result.batches} batches; runs and rollups are kept."
            )
