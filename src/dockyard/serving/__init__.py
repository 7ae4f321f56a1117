"""Model serving: servers that follow registry aliases, the prediction log, batch inference."""
