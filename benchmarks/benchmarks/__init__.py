"""asv benchmarks of roofwatch's engine: one kernel of every registered op
type (kernels.py) and every registered model's forward pass (models.py).
Both iterate over the registries, so new ops and models are picked up
without editing this suite."""
