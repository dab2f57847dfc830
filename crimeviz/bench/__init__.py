"""Benchmarks behind ``python -m crimeviz bench …`` and each feature's ``bench`` command. Each
prints JSON and compares against a baseline measured in the same run (``timing.timed``)."""
