"""Request and response models of the project service."""

from __future__ import annotations

import datetime as dt
from html import escape

from pydantic import Field

from dockyard.core.schemas import Limit, Model, Name, Text


class ProjectCreate(Model):
    name: Name
    description: Text = Field("", max_length=10_000)


class ProjectUpdate(Model):
    """Fields to change; those left out stay as they are."""

    name: Name | None = None
    description: Text | None = Field(None, max_length=10_000)


class ProjectQuery(Model):
    limit: Limit = 100
    cursor: str | None = None


class Project(Model):
    id: str
    name: str
    description: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    def _repr_html_(self) -> str:
        return (
            f"<b>project</b> <code>{escape(self.name)}</code> <small>{self.id}</small>"
            f"<br>{escape(self.description)}<br><small>created by {escape(self.created_by)} "
            f"at {self.created_at:%Y-%m-%d %H:%M} UTC</small>"
        )
