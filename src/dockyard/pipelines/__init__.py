"""Pipelines: DAGs of Python steps with caching, retries and resume."""
