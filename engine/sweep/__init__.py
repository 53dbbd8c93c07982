"""Deployment sweeps: measure a model under a grid of threads, batch sizes,
instances, pinning, passes and quant, each configuration in its own
processes (`roofwatch-engine sweep`), or search it under a p99 SLO
(`--slo-p99-ms`, engine.sweep.autotune). engine.sweep.report is the contract
with the platform and imports nothing heavy."""
