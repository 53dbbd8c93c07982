"""Admin for webhook endpoints and the delivery log. Secrets and tokens are
write-only: the form takes a new value, never shows the stored one."""
from django import forms
from django.contrib import admin

from core.readonly_admin import ReadOnlyAdmin
from notify.models import Delivery, InboundDelivery, WebhookEndpoint, WebhookSecret

KEEP = "Leave empty to keep the stored value. Never shown after saving."


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https",
                         help_text="The receiver; for GitHub statuses the API base (https://api.github.com).")
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                             help_text="Generic endpoints: signs each body (HMAC-SHA256). " + KEEP)
    token = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                            help_text="GitHub status endpoints: a token with commit-status write access. " + KEEP)

    class Meta:
        model = WebhookEndpoint
        fields = ["project", "name", "kind", "url", "secret", "token", "enabled"]

    def clean(self):
        data = super().clean()
        for name in ("secret", "token"):
            if not data.get(name) and self.instance.pk:
                data[name] = getattr(WebhookEndpoint.objects.get(pk=self.instance.pk), name)
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "project", "kind", "url", "enabled", "has_secret", "created"]
    list_filter = ["kind", "enabled", "project"]

    @admin.display(boolean=True, description="secret or token set")
    def has_secret(self, endpoint):
        return bool(endpoint.secret or endpoint.token)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["delivery_id", "endpoint", "summary", "event", "state", "response_code", "attempts", "delivered_at",
                    "created"]
    list_filter = ["endpoint__kind", "event", "gave_up"]
    readonly_fields = ["delivery_id", "endpoint", "summary", "event", "request_url", "request_body", "response_code",
                       "attempts", "last_error", "gave_up", "next_attempt_at", "delivered_at", "created"]


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["source", "event", "delivery_id", "project", "commit", "branch", "jobs_created", "received_at"]
    list_filter = ["source", "event"]


@admin.register(WebhookSecret)
class WebhookSecretAdmin(admin.ModelAdmin):
    """Which projects have a secret, and since when; never the secret itself."""

    list_display = ["project", "created"]
    fields = ["project", "created"]
    readonly_fields = ["project", "created"]

    def has_add_permission(self, request):
        return False  # `manage.py webhook_secret PROJECT` creates it and shows it once
