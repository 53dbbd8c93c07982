from django.apps import AppConfig


class RegressionsConfig(AppConfig):
    name = "regressions"
    verbose_name = "Regressions"

    def ready(self) -> None:
        from regressions.receivers import detect_after_run_ingested
        from results.signals import run_ingested

        run_ingested.connect(detect_after_run_ingested, dispatch_uid="regressions.detect_after_run_ingested")
