"""A Celery task that exists only for the service tests: a worker that runs it
has proved it reads the same database over the same broker as the test."""
from celery import shared_task


@shared_task(name="tests.count_rows")
def count_rows(model_label: str) -> int:
    from django.apps import apps

    return apps.get_model(model_label).objects.count()
