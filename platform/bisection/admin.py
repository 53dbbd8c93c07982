from django.contrib import admin

from bisection.models import Bisection, BisectRun
from core.readonly_admin import ReadOnlyAdmin


class BisectRunInline(admin.TabularInline):
    model = BisectRun
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in BisectRun._meta.fields]


@admin.register(Bisection)
class BisectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "summary", "machine", "layer", "status", "created", "finished_at"]
    list_filter = ["status"]
    inlines = [BisectRunInline]
