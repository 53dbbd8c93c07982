"""`manage.py prune_layers --older-than DAYS [--dry-run] [--batch-size N]`:
delete the per-layer rows of runs older than DAYS, keeping the runs and their
end-to-end statistics. Deletes in short batches by id range; safe to interrupt
and run again."""
from django.core.management.base import BaseCommand, CommandError

from results.retention import DEFAULT_BATCH_SIZE, prune_layers


class Command(BaseCommand):
    help = "Delete layer measurements of runs older than DAYS (runs and end-to-end stats are kept)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", metavar="DAYS", type=float, required=True,
                            help="age in days of the oldest runs whose layers are kept")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
        parser.add_argument("--batch-size", metavar="N", type=int, default=DEFAULT_BATCH_SIZE,
                            help=f"ids per DELETE statement (default {DEFAULT_BATCH_SIZE})")

    def handle(self, *args, older_than: float, dry_run: bool, batch_size: int, **options):
        try:
            result = prune_layers(older_than, dry_run=dry_run, batch_size=batch_size)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        when = result.cutoff.isoformat(timespec="seconds")
        if result.dry_run:
            self.stdout.write(
                f"Dry run: would delete {result.layers} layer rows of {result.runs} runs started before {when}; "
                "runs are kept."
            )
        else:
            self.stdout.write(
                f"Deleted {result.layers} layer rows of {result.runs} runs started before {when} "
                f"in {result.batches} batches; runs are kept."
            )
