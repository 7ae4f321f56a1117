"""Online stores: where online feature state lives (embedded SQLite file, or Redis)."""

from dockyard.features.stores.base import OnlineStore
from dockyard.features.stores.sqlite import SQLiteOnlineStore

__all__ = ["OnlineStore", "SQLiteOnlineStore"]
