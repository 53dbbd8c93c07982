from django.contrib import admin, messages

from core.readonly_admin import ReadOnlyAdmin
from fleet import jobs
from fleet.models import REENROLL_WINDOW, EnrollmentToken, Job, Machine, MachineGroup, Schedule


@admin.register(Machine)
class MachineAdmin(admin.ModelAdmin):
    list_display = [
        "name", "hostname", "cpu_model", "cores", "peak_gflops", "peak_gbs", "last_seen", "enabled", "has_token",
    ]
    list_filter = ["enabled", "all_projects", "may_create_projects", "cpu_model", "os"]
    search_fields = ["name", "hostname", "fingerprint", "cpu_model"]
    # Tokens are created with `manage.py agent_token`; the hash is never shown or edited.
    exclude = ["token_hash"]
    readonly_fields = [
        "fingerprint", "hostname", "cpu_model", "cores", "memory_bytes", "os", "python", "numpy", "blas",
        "peak_gflops", "peak_gbs", "token_created", "first_seen", "last_seen", "reenroll_until",
    ]
    actions = ["revoke_tokens", "disable_machines", "enable_machines", "allow_reenrollment"]

    @admin.display(boolean=True, description="token")
    def has_token(self, machine: Machine) -> bool:
        return bool(machine.token_hash)

    @admin.action(description="Revoke the agent tokens of the selected machines")
    def revoke_tokens(self, request, queryset):
        count = queryset.exclude(token_hash="").update(token_hash="")
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)

    @admin.action(description="Disable the selected machines (their uploads get 401)")
    def disable_machines(self, request, queryset):
        self.message_user(request, f"Disabled {queryset.update(enabled=False)} machine(s).", messages.SUCCESS)

    @admin.action(description="Enable the selected machines")
    def enable_machines(self, request, queryset):
        self.message_user(request, f"Enabled {queryset.update(enabled=True)} machine(s).", messages.SUCCESS)

    @admin.action(description="Allow re-enrollment of the selected machines without their token (once)")
    def allow_reenrollment(self, request, queryset):
        for machine in queryset:
            machine.allow_reenrollment()
        hours = int(REENROLL_WINDOW.total_seconds() // 3600)
        self.message_user(request, f"{queryset.count()} machine(s) may re-enroll with an enrollment token once "
                                   f"within {hours} hours.", messages.SUCCESS)


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with `manage.py enroll_token` (shown once); here they
    can be reviewed and revoked, never read back."""

    list_display = ["id", "label", "created", "expires_at", "uses", "max_uses", "last_used", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["label"]
    exclude = ["token_hash"]
    readonly_fields = ["created", "uses", "last_used"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # a token made here could never be shown to anyone

    @admin.action(description="Revoke the selected enrollment tokens")
    def revoke(self, request, queryset):
        self.message_user(request, f"Revoked {queryset.update(revoked=True)} token(s).", messages.SUCCESS)


@admin.register(MachineGroup)
class MachineGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "machine_count"]
    search_fields = ["name", "machines__name"]
    filter_horizontal = ["machines"]

    @admin.display(description="machines")
    def machine_count(self, group: MachineGroup) -> int:
        return group.machines.count()


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Model.clean() checks the benchmark spec (fleet.job_spec) when a schedule is saved here."""

    list_display = ["name", "group", "model", "interval_seconds", "enabled", "last_enqueued"]
    list_filter = ["enabled", "group", "model"]
    search_fields = ["name", "model"]
    readonly_fields = ["last_enqueued"]
    actions = ["enqueue_now"]

    @admin.action(description="Queue jobs for the selected schedules now")
    def enqueue_now(self, request, queryset):
        count = queryset.filter(enabled=True).update(last_enqueued=None)
        made = jobs.enqueue_scheduled()
        self.message_user(request, f"{count} schedule(s) due now; made {made} job(s).", messages.SUCCESS)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    """Jobs come from schedules and CI; here they are watched and cancelled, not edited."""

    list_display = ["id", "machine", "kind", "priority", "model", "commit", "status", "attempts", "lease_expires",
                    "created", "finished_at", "run_id"]
    list_filter = ["status", "kind", "machine", "schedule", "timed_out"]
    search_fields = ["model", "commit", "machine__name", "error"]
    list_select_related = ["machine"]
    exclude = ["lease_hash"]
    actions = ["cancel_jobs"]

    @admin.action(description="Cancel the selected unfinished jobs (their agents' leases stop working)")
    def cancel_jobs(self, request, queryset):
        self.message_user(request, f"Cancelled {jobs.cancel(queryset)} job(s).", messages.SUCCESS)
