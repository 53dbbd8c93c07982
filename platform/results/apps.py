from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "results"
    verbose_name = "Results"

    def ready(self) -> None:
        from results.receivers import refresh_series_after_ingest
        from results.signals import run_ingested

        run_ingested.connect(refresh_series_after_ingest, dispatch_uid="results.refresh_series_after_ingest")
