"""Garbage collection: remove blobs nothing references from the backing store."""
