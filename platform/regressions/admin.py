"""Admin for alerts: triage (status, notes) goes through regressions.triage so
the history records who changed what; everything detection wrote is read-only.
Detection policies are a person's settings: editable, checked by
DetectionPolicy.clean (the API's rules)."""
from django.contrib import admin

from core.readonly_admin import ReadOnlyAdmin
from regressions.models import REASSIGNED, Alert, AlertSummary, DetectionPolicy, TriageEvent
from regressions.triage import set_alert_status, set_summary_notes, set_summary_status


class AlertInline(admin.TabularInline):
    model = Alert
    fk_name = "summary"
    fields = ["machine", "benchmark", "layer", "rel_change", "direction", "classification", "status", "vanished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class EventInline(admin.TabularInline):
    model = TriageEvent
    fields = ["at", "user", "alert", "action", "old", "new", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AlertSummary)
class AlertSummaryAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "classification", "status", "triaged_by", "created"]
    list_filter = ["status", "classification", "project"]
    search_fields = ["notes", "attribution"]
    fields = ["project", "attribution", "classification", "status", "notes", "triaged_by", "triaged_at", "created"]
    readonly_fields = ["project", "attribution", "classification", "triaged_by", "triaged_at", "created"]
    inlines = [AlertInline, EventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if "status" in form.changed_data:
            set_summary_status(obj, form.cleaned_data["status"], request.user)
        if "notes" in form.changed_data:
            set_summary_notes(obj, form.cleaned_data["notes"], request.user)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["id", "summary", "machine", "benchmark", "layer", "rel_change", "direction", "classification",
                    "status", "vanished_at"]
    list_filter = ["status", "direction", "classification", "machine", "benchmark__model"]
    search_fields = ["layer"]
    readonly_fields = [
        "summary", "original_summary", "machine", "benchmark", "layer", "metric", "run_before", "run_after", "before",
        "after", "rel_change", "confidence", "direction", "classification", "evidence", "policy", "vanished_at",
        "created",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None or obj.status != REASSIGNED:
            # Reassignment is a triage action of its own (the API's "summary"), not a status to pick.
            field = form.base_fields["status"]
            field.choices = [c for c in field.choices if c[0] != REASSIGNED]
        return form

    def save_model(self, request, obj, form, change) -> None:
        if "status" in form.changed_data and form.cleaned_data["status"] != REASSIGNED:
            set_alert_status(obj, form.cleaned_data["status"], request.user)


@admin.register(TriageEvent)
class TriageEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "summary", "alert", "user", "action", "old", "new"]
    list_filter = ["action"]


@admin.register(DetectionPolicy)
class DetectionPolicyAdmin(admin.ModelAdmin):
    list_display = ["id", "scope", "project", "benchmark", "machine", "layer", "min_rel_change", "bad_direction",
                    "window", "muted", "alert_improvements", "updated_by", "updated"]
    list_filter = ["project", "muted"]
    search_fields = ["layer", "project__name", "machine__name"]
    raw_id_fields = ["benchmark"]
    fields = ["project", "benchmark", "machine", "layer", "min_rel_change", "bad_direction", "window", "muted",
              "alert_improvements", "updated_by", "created", "updated"]
    readonly_fields = ["updated_by", "created", "updated"]

    def save_model(self, request, obj, form, change) -> None:
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
