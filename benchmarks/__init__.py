"""Benchmarks: the labs' fast paths against seed-style baselines, measured in the same run.

Run them with ``python -m benchmarks.run_all --scale tiny --device cpu`` (``make bench``)
or one at a time, e.g. ``python -m benchmarks.bench_generation``. See benchmarks/README.md.
"""
