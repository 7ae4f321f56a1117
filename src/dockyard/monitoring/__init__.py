"""Monitoring's statistics engine: mergeable window summaries, drift tests and performance."""
