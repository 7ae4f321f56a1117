"""Compute: executors that run units of work in-process, in local processes or on Ray."""
