from django.apps import AppConfig


class BisectionConfig(AppConfig):
    name = "bisection"
    verbose_name = "Bisection"

    def ready(self) -> None:
        from bisection.receivers import advance_after_job_finished, start_after_alerts_filed
        from fleet.signals import job_finished
        from regressions.signals import alerts_filed

        job_finished.connect(advance_after_job_finished, dispatch_uid="bisection.advance_after_job_finished")
        alerts_filed.connect(start_after_alerts_filed, dispatch_uid="bisection.start_after_alerts_filed")
