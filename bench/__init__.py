"""Benchmarks: a harness (bench/harness/), scenarios (bench/scenarios/), a renderer (bench/render/)."""
