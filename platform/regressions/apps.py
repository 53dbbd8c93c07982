from django.apps import AppConfig


class RegressionsConfig(AppConfig):
    name = "regressions"
    verbose_name = "Regressions"

    def ready(self) -> None:
        from regressions.receivers import detect_after_run_ingested, detect_after_runs_imported
        from results.signals import run_ingested, runs_imported

        run_ingested.connect(detect_after_run_ingested, dispatch_uid="regressions.detect_after_run_ingested")
        runs_imported.connect(detect_after_runs_imported, dispatch_uid="regressions.detect_after_runs_imported")
