"""Benchmarks run by ``qlink bench NAME``; each prints a table, or one JSON object with --json."""
