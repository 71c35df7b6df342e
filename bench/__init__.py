"""Benchmarks: data at scale, latency and throughput, quality of models."""
