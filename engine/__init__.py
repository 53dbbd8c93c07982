"""roofwatch's inference engine: a small graph IR, numpy kernels, benchmark
models and a per-layer roofline profiler. Imports nothing of the platform."""
