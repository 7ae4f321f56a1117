"""The feature store's errors: each names what is wrong and what to fix.

They subclass the shared errors of :mod:`dockyard.core.errors`, so a later HTTP layer maps
them to 4xx answers (422 for bad input, 404 for an unknown name) without a table of its own.
"""

from __future__ import annotations

from dockyard.core.errors import InvalidInput, NotFound


class InvalidDefinition(InvalidInput):
    """An entity, feature view or feature is not well formed (a bad name, duration, kind)."""


class UnknownFeature(NotFound):
    """A feature reference names a view or feature that is not defined."""


class InvalidTable(InvalidInput):
    """A labels or events table lacks a column it needs or holds a column of the wrong type."""


class LateEvent(InvalidInput):
    """Pushed events are older than the view's lateness allows behind the newest event seen."""


class OutOfHorizon(InvalidInput):
    """An online lookup asked for a time before the oldest one the online store can answer."""
