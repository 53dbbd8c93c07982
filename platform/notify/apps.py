from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from notify.receivers import notify_after_alerts_filed
        from regressions.signals import alerts_filed

        alerts_filed.connect(notify_after_alerts_filed, dispatch_uid="notify.notify_after_alerts_filed")
