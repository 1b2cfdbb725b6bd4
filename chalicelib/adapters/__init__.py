"""Adapters: the only code that talks to AWS (and the in-memory twins used by tests and benchmarks)."""
