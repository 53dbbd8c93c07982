"""`manage.py enqueue_jobs`: what celery beat does every minute, once, now —
make the jobs of due schedules and release expired leases. For set-ups
without beat (the demo, a cron job) and for operators in a hurry."""
from django.core.management.base import BaseCommand

from fleet.jobs import enqueue_scheduled, release_expired


class Command(BaseCommand):
    help = "Make jobs for due schedules and re-queue (or fail) claimed jobs whose lease expired."

    def handle(self, *args, **options):
        made = enqueue_scheduled()
        requeued, failed = release_expired()
        self.stdout.write(f"made {made} job(s); re-queued {requeued} and failed {failed} with an expired lease")
