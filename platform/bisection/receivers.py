"""Receivers the bisection app connects (in BisectionConfig.ready). Both
signals are sent after their transactions committed, so workers find the rows."""
from bisection.runner import bisection_of_job
from bisection.tasks import advance_bisection, start_bisections
from regressions.models import Alert


def advance_after_job_finished(sender, job_id: int, **kwargs) -> None:
    bisection_id = bisection_of_job(job_id)
    if bisection_id is not None:
        advance_bisection.delay(bisection_id)


def start_after_alerts_filed(sender, alert_ids: list[int], **kwargs) -> None:
    summary_ids = sorted(set(Alert.objects.filter(pk__in=alert_ids).values_list("summary_id", flat=True)))
    if summary_ids:
        start_bisections.delay(summary_ids)
