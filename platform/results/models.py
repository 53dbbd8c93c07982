"""Projects, benchmarks, runs and their per-layer measurements.

A series is (machine, benchmark, layer name, metric): it leaves out commit,
model version and config, so a change of any of them shows up as a change in it.
"""
import re
from collections.abc import Iterable

from django.db import models

from engine.report import (
    BOUNDS, END_TO_END, ENGINE_VERSION_MAX_LENGTH, PURPOSE_BISECT, PURPOSES, ROOF_KINDS, UNDER_TEST,
    UNDER_TEST_ENGINE, UNDER_TEST_MODEL,
)
from engine.sweep.report import KNOBS as SWEEP_KNOBS
from engine.sweep.report import MODES as SWEEP_MODES
from engine.sweep.report import STATUSES as SWEEP_STATUSES
from fleet.models import EnrollmentToken, Machine
from results.canonical import canonical_sha256

BOUND_CHOICES = [(b, b) for b in BOUNDS]
ROOF_CHOICES = [(r, r) for r in ROOF_KINDS]
PURPOSE_CHOICES = [(p, p or "ordinary") for p in PURPOSES]
UNDER_TEST_RUN_CHOICES = [(u, u or "not a project job") for u in UNDER_TEST]
UNDER_TEST_CHOICES = [(UNDER_TEST_ENGINE, "engine under test: a commit's own engine runs the benchmark"),
                      (UNDER_TEST_MODEL, "model under test: the agent's engine runs the model file at the commit")]
WORK_UNKNOWN_MAX = 1000  # LayerMeasurement.work_unknown: why a layer's FLOPs and bytes are not known


LOCAL_PROJECT = "local"  # name and repository_url of runs reported without a repository


def normalize_repository(repository: str) -> str:
    """One spelling per repository: no surrounding space, trailing slash or '.git'."""
    url = repository.strip().rstrip("/")
    return url.removesuffix(".git") or LOCAL_PROJECT


def project_name(repository_url: str) -> str:
    """A short name from a repository URL or path: its last two path segments."""
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", repository_url)  # scheme://host
    path = re.sub(r"^[^/:@]+@[^:]+:", "", path)  # git@host:
    segments = [s for s in path.split("/") if s]
    return "/".join(segments[-2:]) or repository_url


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    repository_url = models.CharField(max_length=500, unique=True)
    default_branch = models.CharField(max_length=200, default="main")
    # What a commit of the repository changes: roofwatch's engine (its own engine runs each
    # commit's benchmark), or the model (ONNX benchmarks, run by the agent's own engine).
    under_test = models.CharField(max_length=16, choices=UNDER_TEST_CHOICES, default=UNDER_TEST_ENGINE)
    # Who may post runs to this project (results.project_scope); kept here because fleet imports no app.
    machines = models.ManyToManyField(
        Machine, related_name="projects", blank=True, help_text="machines that may post runs to this project"
    )
    enrollment_tokens = models.ManyToManyField(
        EnrollmentToken, related_name="projects", blank=True,
        help_text="machines registering with these enrollment tokens may post runs to this project",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def for_repository(cls, url: str) -> "Project":
        """The project of repository `url` (normalized), created if new, named by
        the URL's last two path segments (made unique when another host has them)."""
        project = cls.objects.filter(repository_url=url).first()
        if project is not None:
            return project
        name = project_name(url)[:200]
        if cls.objects.filter(name=name).exists():  # same name, other host or path
            name = f"{name[:180]} ({canonical_sha256(url)[:8]})"
        project, _ = cls.objects.get_or_create(repository_url=url, defaults={"name": name})
        return project

    @classmethod
    def named(cls, text: str) -> "Project":
        """The project called `text`, else the one of repository `text`, created if
        new: how operators name projects to commands (`enroll_token --project`)."""
        return cls.objects.filter(name=text).first() or cls.for_repository(normalize_repository(text))


class Benchmark(models.Model):
    """A model with one set of size params (batch size, sequence length, ...)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="benchmarks")
    model = models.CharField(max_length=100)
    params = models.JSONField(default=dict)
    params_hash = models.CharField(max_length=64)  # sha256 of canonical params JSON
    # The software environment the benchmark ran in, part of its identity (so of its series): asv's
    # env_name, which names the Python ("virtualenv-py3.12-numpy"). Blank for roofwatch's own runs.
    environment = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["model", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "model", "params_hash", "environment"],
                                    name="unique_benchmark_params_environment"),
        ]

    def __str__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        name = f"{self.model}({params})" if params else self.model
        return f"{name} [{self.environment}]" if self.environment else name

    def in_every_environment(self) -> "models.QuerySet[Benchmark]":
        """This benchmark (model and params) in each environment it ran in, itself included."""
        return Benchmark.objects.filter(
            project_id=self.project_id, model=self.model, params_hash=self.params_hash
        ).order_by("environment", "pk")


class RunQuerySet(models.QuerySet):
    def in_series(self) -> "RunQuerySet":
        """The runs that belong to their series: not a bisection's runs at old commits.
        Every reader of a series or of "the latest runs" goes through this."""
        return self.exclude(purpose=PURPOSE_BISECT)


class Run(models.Model):
    """One uploaded run report (schema roofwatch.run/1)."""

    idempotency_key = models.UUIDField(unique=True)
    payload_sha256 = models.CharField(max_length=64)  # tells a replay from a conflicting reuse of the key
    machine = models.ForeignKey(Machine, on_delete=models.PROTECT, related_name="runs")
    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="runs")
    model_version = models.CharField(max_length=64)
    config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    commit = models.CharField(max_length=64, blank=True, default="")
    branch = models.CharField(max_length=200, blank=True, default="")
    commit_time = models.DateTimeField(null=True, blank=True)
    ci_url = models.CharField(max_length=500, blank=True, default="")
    started_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    warmup = models.PositiveIntegerField()
    repeats = models.PositiveIntegerField()
    # End-to-end seconds per inference.
    median = models.FloatField()
    p25 = models.FloatField()
    p75 = models.FloatField()
    min = models.FloatField()
    n = models.PositiveIntegerField()
    # The 95% confidence interval of the end-to-end median (engine.report.TimeStats);
    # null for reports from before the engine measured it.
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    # The machine's roofline as measured when this run was made; a later
    # re-measurement of the machine must not change this run's % of roof.
    # Null for runs imported from asv, which measures no peaks.
    peak_gflops = models.FloatField(null=True, blank=True)
    peak_gbs = models.FloatField(null=True, blank=True)
    # Every thread count's roofs as measured for this run (engine.report.Roof:
    # threads, gflops, gbs, gather_gbs by row size); null for older reports.
    roofs = models.JSONField(null=True, blank=True)
    # Minor page faults during the timed passes (0: steady state); null where not counted.
    timed_page_faults = models.BigIntegerField(null=True, blank=True)
    # Relative cost of per-layer timing on end-to-end time (0.02 = 2%), when measured.
    profiler_overhead = models.FloatField(null=True, blank=True)
    # The agent's record of how quiet the machine was (engine.report.Report.conditions).
    conditions = models.JSONField(null=True, blank=True)
    # A quantized run's accuracy delta against fp32 (engine.report.Report.accuracy); null for fp32 runs.
    accuracy = models.JSONField(null=True, blank=True)
    # Counted in the series catalogue (results.catalogue). Set in the transaction
    # that adds the run's points there, so a redelivered task cannot count it twice.
    catalogued = models.BooleanField(default=False, editable=False)
    # Why the run was made (engine.report.PURPOSES): "" ordinary; "bisect" a bisection's run, never in a series.
    purpose = models.CharField(max_length=16, blank=True, default="", choices=PURPOSE_CHOICES)
    # What the commit changes (engine.report.UNDER_TEST; "" for a run without a project job) and
    # the engine that ran it (engine.report.Source.engine_version).
    # Database defaults too: the bulk writers (asv import, the ingest benchmark) leave them out.
    under_test = models.CharField(
        max_length=16, blank=True, default="", db_default="", choices=UNDER_TEST_RUN_CHOICES)
    engine_version = models.CharField(max_length=ENGINE_VERSION_MAX_LENGTH, blank=True, default="", db_default="")

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # The run list, newest first.
            models.Index(fields=["-started_at", "-id"], name="run_newest"),
            # The ingest's "is a newer run of this machine stored?" (so a late upload keeps the hardware).
            models.Index(fields=["machine", "started_at"], name="run_machine_started"),
            # Runs whose catalogue task has not run yet (refresh_all_series catches them up); a small partial index.
            models.Index(fields=["id"], condition=models.Q(catalogued=False), name="run_uncatalogued"),
            # End-to-end series and "latest runs" of one benchmark on one machine; covering the
            # fields a layer series' points carry of their runs, so results.series reads them
            # for a whole time range from the index (5,000 runs: ~110 pages, not ~5,000 heap pages).
            models.Index(
                fields=["machine", "benchmark", "started_at"],
                include=["id", "commit", "model_version", "config_hash", "purpose"],
                name="run_series_points",
            ),
            # Runs of a commit (CI gating, attribution).
            models.Index(fields=["commit"], name="run_commit"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.benchmark} on {self.machine}"

    @property
    def is_bisect(self) -> bool:
        return self.purpose == PURPOSE_BISECT

    @property
    def ridge_point(self) -> float | None:
        """FLOPs per byte where the compute roof meets the bandwidth slope; None without both peaks."""
        return self.peak_gflops / self.peak_gbs if self.peak_gflops and self.peak_gbs else None

    def get_absolute_url(self) -> str:
        """The run's dashboard page."""
        return f"/runs/{self.pk}/"


class LayerQuerySet(models.QuerySet):
    def in_series(self) -> "LayerQuerySet":
        """The layer rows of runs that belong to their series (RunQuerySet.in_series)."""
        return self.exclude(run__purpose=PURPOSE_BISECT)

    def of_runs(self, runs: "Iterable[Run | dict]") -> "LayerQuerySet":
        """The layer rows of `runs` (Runs, or dicts with id and started_at). Rows
        carry their run's started_at, so the time bounds let PostgreSQL read only
        those runs' monthly partitions (results.partitions) instead of probing
        every month's index; planning alone cost 2-19 ms at 40 partitions."""
        pairs = [(r["id"], r["started_at"]) if isinstance(r, dict) else (r.pk, r.started_at) for r in runs]
        if not pairs:
            return self.none()
        times = [started for _, started in pairs]
        return self.filter(run_id__in=[pk for pk, _ in pairs], started_at__gte=min(times), started_at__lte=max(times))


class LayerMeasurement(models.Model):
    """One layer of one run. machine, benchmark and started_at are copied from
    the run so a layer series is one index range scan, no join."""

    # No single-column indexes on run and machine: unique_layer_index_per_run leads with run and
    # layer_series with machine, and every index slows the COPY of each ingest.
    # No database constraint on the run either: ingest writes a run and its layers in one
    # transaction, and Django deletes a run's layers with it (CASCADE is Django's, not the
    # database's). PostgreSQL's check looked up and locked the run once per layer row at
    # commit: without it 11.4-12.1 instead of 16.7-17.2 us of PostgreSQL CPU a row in bulk
    # ingest (benchmarks/platform_ingest.py at 2 M rows, side by side, 2026-12-07).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="layers", db_index=False,
                            db_constraint=False)
    # The run's machine and benchmark, copied: no database constraint (the run's own keys
    # vouch for them; the per-row checks cost PostgreSQL ~5 us a row: 200,000 rows inserted in
    # 4.8 s with the three checks, 2.6 s with the run's alone), no index of their own and no
    # cascade of their own (a run keeps its machine and benchmark from deletion, and deleting
    # a run deletes its layers), so neither slows each COPY nor a delete scans the table.
    machine = models.ForeignKey(Machine, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
                                db_constraint=False)
    benchmark = models.ForeignKey(Benchmark, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
                                  db_constraint=False)
    started_at = models.DateTimeField()
    name = models.CharField(max_length=200)
    op = models.CharField(max_length=64)
    index = models.PositiveIntegerField()
    sources = models.JSONField(default=list)  # nodes of the original graph this layer covers
    # flops, bytes and what follows from them (gflops, gbs, ai, bound) are null exactly when
    # work_unknown says why the work cannot be known (engine.report.Layer; onnxruntime runs only).
    flops = models.BigIntegerField(null=True, blank=True)
    bytes = models.BigIntegerField(null=True, blank=True)
    median = models.FloatField()
    p25 = models.FloatField()
    p75 = models.FloatField()
    min = models.FloatField()
    n = models.PositiveIntegerField()
    ci_low = models.FloatField(null=True, blank=True)  # 95% confidence interval of the median; null in old reports
    ci_high = models.FloatField(null=True, blank=True)
    gflops = models.FloatField(null=True, blank=True)
    gbs = models.FloatField(null=True, blank=True)
    ai = models.FloatField(null=True, blank=True)
    bound = models.CharField(max_length=16, choices=BOUND_CHOICES, null=True, blank=True)
    work_unknown = models.CharField(max_length=WORK_UNKNOWN_MAX, null=True, blank=True)
    # The roofs that judge this layer (engine.report.Layer); null in old reports,
    # which are judged against the run's peak_gflops/peak_gbs.
    threads = models.PositiveIntegerField(null=True, blank=True)  # threads its kernel really runs on
    roof = models.CharField(max_length=16, choices=ROOF_CHOICES, null=True, blank=True)  # which bandwidth roof
    roof_gflops = models.FloatField(null=True, blank=True)
    roof_gbs = models.FloatField(null=True, blank=True)
    # What the kernel really moves where that is more than `bytes` (the minimum traffic); else null.
    kernel_bytes = models.BigIntegerField(null=True, blank=True)

    objects = LayerQuerySet.as_manager()

    class Meta:
        ordering = ["run", "index"]
        indexes = [
            # A layer series: one layer of one benchmark on one machine over time.
            # Covering (PostgreSQL INCLUDE) for the time metrics, so reading a series is
            # an index-only scan instead of one heap page per point (rows are stored in
            # run order, so a series' points are scattered over the heap).
            models.Index(
                fields=["machine", "benchmark", "name", "started_at"],
                include=["run", "median", "p25", "p75"],
                name="layer_series",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="unique_layer_index_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.op})"


def prefetch_layers(*runs: Run) -> None:
    """Fetch the runs' layers in index order into `run.layers.all()`, in one
    query bounded by the runs' times (LayerQuerySet.of_runs), not a bare
    prefetch_related("layers") that probes every monthly partition."""
    layers = LayerMeasurement.objects.of_runs(runs).order_by("index")
    models.prefetch_related_objects(list(runs), models.Prefetch("layers", queryset=layers))


class Series(models.Model):
    """The catalogue of series: one row per (machine, benchmark, layer) with how
    many points it has and when the first and last were taken. Derived from
    Run and LayerMeasurement (results.catalogue keeps it up to date after each
    ingest and after retention), so listing series reads this small table
    instead of aggregating the measurement table."""

    # No single-column foreign key indexes: unique_series leads with machine, series_benchmark with benchmark.
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+", db_index=False)
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="series", db_index=False)
    layer = models.CharField(max_length=200)  # END_TO_END for the whole model
    op = models.CharField(max_length=64, blank=True, default="")  # blank for END_TO_END
    index = models.PositiveIntegerField(null=True, blank=True)  # the layer's position; null for END_TO_END
    first = models.DateTimeField()
    last = models.DateTimeField()
    points = models.PositiveIntegerField()

    class Meta:
        ordering = ["machine", "benchmark", "index", "layer"]
        constraints = [
            # Also the index of the catalogue upsert and of "the series of one machine"
            # (the ?machine= filter and ?machine=&benchmark=, ordered by layer position).
            models.UniqueConstraint(fields=["machine", "benchmark", "layer"], name="unique_series"),
        ]
        indexes = [
            # The ?benchmark= filter (and the benchmark foreign key) without a machine.
            models.Index(fields=["benchmark", "machine", "index"], name="series_benchmark"),
        ]

    def __str__(self) -> str:
        return f"{self.layer} of {self.benchmark} on {self.machine}"

    @property
    def is_end_to_end(self) -> bool:
        return self.layer == END_TO_END


class DailyRollup(models.Model):
    """One layer series' UTC day in summary, kept for ever; the raw layer rows
    go after ROOFWATCH_RAW_RETENTION_DAYS (results.rollups builds these,
    results.retention seals a day before deleting its rows).

    The day's runs are the runs in their series (no bisection runs) started
    that UTC day that measured this layer; each gives one value, its
    LayerMeasurement.median (the median of that run's repeats). Over those
    run medians:
      median    their median (the mean of the middle two for an even count);
      p25, p75  their 25th and 75th percentiles, interpolated linearly
                (PostgreSQL's percentile_cont): the spread between the day's
                runs, not the spread of repeats within a run;
      min       the fastest repeat of the day: the least of the runs' `min`;
      n         how many runs;
      first, last  the started_at of the day's first and last run.
    op, index, flops and bytes are the largest of the day's runs (the same in
    every run unless the model changed that day); flops and bytes give a daily
    point's gflops, gbs and ai, derived from its median.

    The end-to-end series has no rollups: retention deletes layer rows only,
    runs (with their end-to-end statistics) are kept, so it stays raw.
    """

    # No single-column foreign key indexes: unique_daily_rollup leads with machine.
    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="+", db_index=False)
    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="+", db_index=False)
    layer = models.CharField(max_length=200)
    day = models.DateField()  # UTC
    op = models.CharField(max_length=64)
    index = models.PositiveIntegerField()
    median = models.FloatField()
    p25 = models.FloatField()
    p75 = models.FloatField()
    min = models.FloatField()
    n = models.PositiveIntegerField()
    first = models.DateTimeField()
    last = models.DateTimeField()
    flops = models.BigIntegerField(null=True, blank=True)  # null: the layer's work is unknown (work_unknown)
    bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["machine", "benchmark", "layer", "day"]
        constraints = [
            # The upsert's key (on SQLite too, so no INCLUDE: Django leaves a covering
            # constraint out there) and a series read: a year is one range of 365 entries.
            models.UniqueConstraint(fields=["machine", "benchmark", "layer", "day"], name="unique_daily_rollup"),
        ]

    def __str__(self) -> str:
        return f"{self.layer} of {self.benchmark} on {self.machine}, {self.day}"


class RollupDay(models.Model):
    """A UTC day the rollups have been built for (results.rollups.roll_up_day),
    and whether retention has sealed it. A sealed day's raw layer rows may be
    deleted, so its rollups are final: rolling it up again only adds series it
    had none for (a late upload), never replaces one from what is left. Days
    are sealed oldest first with none skipped, so the raw window starts the
    day after the last sealed one."""

    day = models.DateField(primary_key=True)
    rolled_at = models.DateTimeField()
    series = models.PositiveIntegerField()  # rollup rows the last roll-up wrote
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} ({'sealed' if self.sealed_at else 'rolled up'})"


SWEEP_MODE_CHOICES = [(m, m) for m in SWEEP_MODES]
SWEEP_STATUS_CHOICES = [(s, s) for s in SWEEP_STATUSES]


class Sweep(models.Model):
    """One uploaded sweep report (schema roofwatch.sweep/1, engine/sweep/report.py):
    a model measured under many deployment configurations on one machine."""

    idempotency_key = models.UUIDField(unique=True)
    payload_sha256 = models.CharField(max_length=64)
    machine = models.ForeignKey(Machine, on_delete=models.PROTECT, related_name="sweeps")
    # The model and its params, batch aside (a knob): the benchmark its best-under-SLO series hang off.
    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="sweeps")
    mode = models.CharField(max_length=16, choices=SWEEP_MODE_CHOICES)
    slo_p99_ms = models.FloatField(null=True, blank=True)  # autotune's SLO
    commit = models.CharField(max_length=64, blank=True, default="")
    branch = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    warmup = models.PositiveIntegerField()
    repeats = models.PositiveIntegerField()
    grid = models.JSONField(default=dict)  # each knob's values
    knobs = models.JSONField(default=dict)  # the system knobs read (SMT, NUMA, governor, turbo, affinity)
    budget_s = models.FloatField(null=True, blank=True)
    load_before = models.FloatField(null=True, blank=True)
    load_after = models.FloatField(null=True, blank=True)
    rounds = models.PositiveIntegerField(default=1)  # measurements of each configuration; its points' medians

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # A machine's and benchmark's sweeps, newest first (the sweep list).
            models.Index(fields=["machine", "benchmark", "-started_at"], name="sweep_machine_benchmark"),
        ]

    def __str__(self) -> str:
        return f"sweep {self.pk} {self.benchmark} on {self.machine}"

    def get_absolute_url(self) -> str:
        return f"/sweeps/{self.pk}/"


class SweepPoint(models.Model):
    """One configuration of a sweep and what it measured (engine.sweep.report.ConfigResult)."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="points")
    index = models.PositiveIntegerField()  # its place in the report
    threads = models.PositiveIntegerField()
    batch = models.PositiveIntegerField()
    instances = models.PositiveIntegerField()
    pin = models.CharField(max_length=200)
    passes = models.CharField(max_length=500)
    quant = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=SWEEP_STATUS_CHOICES)
    error = models.CharField(max_length=1000, blank=True, default="")
    cores = models.JSONField(null=True, blank=True)
    p25_ms = models.FloatField(null=True, blank=True)
    p50_ms = models.FloatField(null=True, blank=True)
    p75_ms = models.FloatField(null=True, blank=True)
    p99_ms = models.FloatField(null=True, blank=True)
    throughput = models.FloatField(null=True, blank=True)  # samples/s
    timed_passes = models.PositiveIntegerField(default=0)
    span_s = models.FloatField(null=True, blank=True)
    faults_per_pass = models.FloatField(null=True, blank=True)
    throughput_rounds = models.JSONField(default=list, blank=True)  # each round's value; empty before rounds
    p99_ms_rounds = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["sweep", "index"]
        constraints = [models.UniqueConstraint(fields=["sweep", "index"], name="unique_sweep_point_index")]

    def knobs(self) -> dict:
        return {k: getattr(self, k) for k in SWEEP_KNOBS}
