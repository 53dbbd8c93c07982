"""Rebuild the series catalogue from the stored runs. The post-ingest task keeps
it current; this is for after an outage of the broker (a missed task)."""
from django.core.management.base import BaseCommand

from results.catalogue import refresh_all_series


class Command(BaseCommand):
    help = "Rebuild the series catalogue (GET /api/v1/series/) from the stored runs and layers."

    def handle(self, *args, **options):
        self.stdout.write(f"{refresh_all_series()} series in the catalogue.")
