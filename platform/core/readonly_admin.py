"""The admin of records the platform writes itself (runs and layers, jobs,
triage history, webhook deliveries): listed and shown, never added or edited
by hand; deleting stays allowed where the model's admin allows it."""
from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
