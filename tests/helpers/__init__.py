"""Helpers shared by the test suites (tiny models, sample data)."""
