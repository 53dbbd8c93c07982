from django.contrib import admin

from core.readonly_admin import ReadOnlyAdmin
from fleet.admin import EnrollmentTokenAdmin, MachineAdmin
from fleet.models import EnrollmentToken, Machine
from results.models import Benchmark, LayerMeasurement, Project, Run, Series


class MeasuredDataAdmin(ReadOnlyAdmin):
    """Runs and layers are measurements: they come from ingest and are never
    edited by hand (deleting a bad run is allowed)."""


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "repository_url", "default_branch", "under_test"]
    search_fields = ["name", "repository_url"]
    filter_horizontal = ["machines", "enrollment_tokens"]


# The projects a machine or enrollment token allows are results' relations (fleet imports no app),
# so results adds them to fleet's admin pages.
class MachineProjectsInline(admin.TabularInline):
    model = Project.machines.through
    extra = 0
    verbose_name = verbose_name_plural = "projects this machine may post runs to"


class EnrollmentTokenProjectsInline(admin.TabularInline):
    model = Project.enrollment_tokens.through
    extra = 0
    verbose_name = verbose_name_plural = "projects machines registering with this token may post runs to"


class MachineWithProjectsAdmin(MachineAdmin):
    inlines = [MachineProjectsInline]


class EnrollmentTokenWithProjectsAdmin(EnrollmentTokenAdmin):
    inlines = [EnrollmentTokenProjectsInline]


admin.site.unregister([Machine, EnrollmentToken])
admin.site.register(Machine, MachineWithProjectsAdmin)
admin.site.register(EnrollmentToken, EnrollmentTokenWithProjectsAdmin)


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ["__str__", "project", "model", "params_hash"]
    list_filter = ["project", "model"]
    search_fields = ["model"]
    readonly_fields = ["params_hash"]


@admin.register(Run)
class RunAdmin(MeasuredDataAdmin):
    list_display = ["id", "benchmark", "machine", "commit", "branch", "started_at", "median"]
    list_filter = ["machine", "benchmark", "branch"]
    list_select_related = ["machine", "benchmark"]
    search_fields = ["commit", "idempotency_key"]
    date_hierarchy = "started_at"


@admin.register(LayerMeasurement)
class LayerMeasurementAdmin(MeasuredDataAdmin):
    list_display = ["run", "index", "name", "op", "median", "gflops", "gbs", "ai", "bound"]
    list_filter = ["bound", "op"]
    list_select_related = ["run__benchmark", "run__machine"]
    search_fields = ["name"]
    raw_id_fields = ["run", "machine", "benchmark"]


@admin.register(Series)
class SeriesAdmin(MeasuredDataAdmin):
    """The series catalogue, kept by the post-ingest task; read-only here."""

    list_display = ["machine", "benchmark", "layer", "op", "points", "first", "last"]
    list_filter = ["machine", "benchmark__model"]
    search_fields = ["layer"]
