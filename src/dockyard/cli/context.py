"""Global CLI options, resolved into settings and a client per command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from dockyard.client.client import Client
    from dockyard.core.config import Settings


@dataclass
class Overrides:
    home: Path | None = None
    db: str | None = None
    blobs: str | None = None
    url: str | None = None
    token: str | None = None

    def settings(self) -> Settings:
        from dockyard.core.config import load_settings

        return load_settings(
            home=self.home, db=self.db, blobs=self.blobs, url=self.url, token=self.token
        )

    def client(self) -> Client:
        from dockyard.client.client import connect_with

        return connect_with(self.settings())


def overrides(ctx: typer.Context) -> Overrides:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Overrides) else Overrides()
