"""Request and response models of pipeline schedules: cron schedules and dataset triggers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import AfterValidator, Field, model_validator

from dockyard.core.schemas import Limit, Model, Name, Text

CRON_RULE = (
    "five fields 'minute hour day-of-month month day-of-week' in UTC (e.g. '0 3 * * *' "
    "for 03:00 every day, '*/15 * * * *' every 15 minutes) or @hourly, @daily, @weekly, "
    "@monthly, @yearly"
)
LastStatus = Literal["running", "succeeded", "failed", "cancelled"]


def check_cron(value: str) -> str:
    """Accept a standard five-field cron expression (or an @-alias); say what is wrong otherwise."""
    text = " ".join(value.split())
    fields = text.split(" ")
    if not (len(fields) == 5 or (len(fields) == 1 and text.startswith("@"))):
        raise ValueError(f"{value[:80]!r} is not a cron expression: use {CRON_RULE}")
    if not croniter.is_valid(text):
        raise ValueError(f"{value[:80]!r} is not a valid cron expression: use {CRON_RULE}")
    return text


def next_fire_time(cron: str, after: dt.datetime) -> dt.datetime:
    """The first time ``cron`` fires strictly after ``after`` (UTC)."""
    found: dt.datetime = croniter(cron, after.astimezone(dt.UTC)).get_next(dt.datetime)
    return found.astimezone(dt.UTC)


Cron = Annotated[str, AfterValidator(check_cron), Field(max_length=128, description=CRON_RULE)]
ParamName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class ScheduleCreate(Model):
    """A schedule: run ``pipeline`` on a cron schedule, or when ``dataset`` gets a version."""

    project: Name
    name: Name
    pipeline: Text = Field(
        min_length=3,
        max_length=512,
        description="the pipeline to run: module:function or path/to/file.py:function "
        "(only its form is checked here; the scheduler imports it when the schedule fires)",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    executor: Text = Field(default="process", min_length=1, max_length=256)
    cron: Cron | None = None
    dataset: Name | None = Field(
        default=None, description="fire once per new accepted version of this dataset"
    )
    dataset_param: ParamName = Field(
        default="data",
        description="the pipeline parameter that receives the new version as 'dataset@number'",
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleCreate:
        if self.cron is None and self.dataset is None:
            raise ValueError("give either a cron expression or a dataset to trigger on")
        if self.cron is not None and self.dataset is not None:
            raise ValueError(
                "give either a cron expression or a dataset to trigger on, not both "
                "(make two schedules for both)"
            )
        if self.dataset is not None and self.dataset_param in self.params:
            raise ValueError(
                f"params sets {self.dataset_param!r}, which the dataset trigger fills with the "
                "new version; leave it out or choose another dataset_param"
            )
        return self


class Schedule(Model):
    """A schedule with its state: when it fired last, with which run, and when it fires next."""

    id: str
    project: str
    name: str
    pipeline: str
    params: dict[str, Any]
    executor: str
    cron: str | None
    dataset: str | None
    dataset_param: str
    enabled: bool
    next_fire_at: dt.datetime | None = Field(description="cron schedules: the next firing")
    last_seen_version: int | None = Field(
        description="dataset triggers: the newest version already seen (it fired, or existed)"
    )
    last_fired_at: dt.datetime | None
    last_run_id: str | None
    last_status: LastStatus | None
    last_error: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def trigger(self) -> str:
        """What makes it fire, for people: ``cron 0 3 * * *`` or ``dataset tx``."""
        return f"cron {self.cron}" if self.cron is not None else f"dataset {self.dataset}"


class ScheduleQuery(Model):
    project: str | None = None
    limit: Limit = 1000


class ClaimRequest(Model):
    project: str | None = Field(default=None, description="only this project's schedules")
    limit: int = Field(default=100, ge=1, le=1000, description="at most this many schedules")
    skip: list[str] = Field(
        default_factory=list, max_length=10_000, description="ids of schedules not to claim"
    )


class Firing(Model):
    """A firing a scheduler has claimed: it alone runs the pipeline with ``params``."""

    schedule: Schedule
    fired_at: dt.datetime
    reason: str = Field(description="'cron' or the new version, 'dataset@number'")
    params: dict[str, Any]


class FiringOutcome(Model):
    """What became of a firing: the pipeline run it started and how that ended."""

    fired_at: dt.datetime
    run_id: str | None = None
    status: LastStatus
    error: Text = Field(default="", max_length=20_000)
