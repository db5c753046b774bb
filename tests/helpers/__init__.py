"""Shared helpers for pytrace tests."""
