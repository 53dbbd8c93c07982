from django.apps import AppConfig
from django.core.signals import request_finished, request_started


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from bisection.signals import culprit_found
        from notify import dispatch
        from notify.receivers import file_with_alerts, send_after_alerts_filed, send_after_culprit_found
        from regressions.signals import alerts_filed, alerts_written

        alerts_written.connect(file_with_alerts, dispatch_uid="notify.file_with_alerts")
        alerts_filed.connect(send_after_alerts_filed, dispatch_uid="notify.send_after_alerts_filed")
        culprit_found.connect(send_after_culprit_found, dispatch_uid="notify.send_after_culprit_found")
        request_started.connect(dispatch.on_request_started, dispatch_uid="notify.dispatch.on_request_started")
        request_finished.connect(dispatch.on_request_finished, dispatch_uid="notify.dispatch.on_request_finished")
