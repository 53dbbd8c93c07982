"""`manage.py partition_layers [--batch-size N] [--months-ahead M]`: turn the
plain layer table into monthly partitions on PostgreSQL, online (writes go on
except for a short swap at the end; see results.partitions). On a partitioned
table it creates any missing partitions up to M months ahead instead."""
from django.core.management.base import BaseCommand, CommandError

from results import partitions


class Command(BaseCommand):
    help = "Convert the layer table to monthly partitions online (PostgreSQL), or create the months ahead."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", metavar="N", type=int, default=partitions.DEFAULT_BATCH_SIZE,
                            help=f"rows copied per transaction (default {partitions.DEFAULT_BATCH_SIZE:,})")
        parser.add_argument("--months-ahead", metavar="M", type=int, default=partitions.DEFAULT_MONTHS_AHEAD,
                            help=f"monthly partitions made ahead of now (default {partitions.DEFAULT_MONTHS_AHEAD})")

    def handle(self, *args, batch_size: int, months_ahead: int, **options):
        if not partitions.is_postgresql():
            raise CommandError("Partitions need PostgreSQL; this database keeps the plain layer table.")
        try:
            if partitions.is_partitioned():
                created = partitions.ensure_partitions(months_ahead)
                if not partitions.drop_old_table():  # a conversion's leftover, if any
                    self.stderr.write(f"{partitions.OLD_TABLE} is still there: its tables stayed busy; run this again.")
                self.stdout.write(f"Already partitioned; created {len(created)} partitions: {', '.join(created)}")
                return
            result = partitions.convert_to_partitioned(batch_size, months_ahead, progress=self.stdout.write)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Partitioned: {result.rows:,} rows copied in {result.batches} batches into {result.partitions} "
            f"monthly partitions in {result.seconds:.1f} s; the swap locked the layer table for "
            f"{result.write_hold_seconds * 1000:.0f} ms."
        )
