"""Experiment tracking: experiments, runs, params, metrics, tags, search."""
