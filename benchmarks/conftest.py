"""Benchmarks import helpers from the test suite."""
