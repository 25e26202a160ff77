"""Benchmarks, one module each with ``main(argv) -> int``; the last stdout line is one JSON object."""
