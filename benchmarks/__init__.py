"""Benchmarks of the platform: each module compares two ways in one run (see README.md)."""
