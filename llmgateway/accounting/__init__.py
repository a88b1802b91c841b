"""Prices and per-call cost."""
