"""Projects: the top-level grouping every experiment, dataset and model belongs to."""
