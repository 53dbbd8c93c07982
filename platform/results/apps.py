from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Results"

    def ready(self) -> None:
        from fleet.signals import machine_enrolled
        from results.project_scope import grant_enrollment_projects
        from results.receivers import refresh_series_after_ingest
        from results.signals import run_ingested

        run_ingested.connect(refresh_series_after_ingest, dispatch_uid="results.refresh_series_after_ingest")
        machine_enrolled.connect(grant_enrollment_projects, dispatch_uid="results.grant_enrollment_projects")
