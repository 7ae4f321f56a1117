"""Bytes: a content-addressed store (sha256) over a small backend protocol."""
