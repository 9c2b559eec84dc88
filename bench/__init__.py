"""Benchmarks for Storm: engine throughput against a floor, dispatch latency, a 100,000-node
workflow. Run `python -m bench --help`; see bench/README.md."""
