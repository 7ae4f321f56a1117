"""dockyard: a self-hosted machine-learning platform.

``import dockyard as dy``; ``dy.connect()`` gives a client on the embedded home
(``~/.dockyard``) or, with ``DOCKYARD_URL`` set, on a dockyard server. Names load lazily so
that importing dockyard stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dockyard._version import __version__

_EXPORTS = {
    "connect": "dockyard.client.client",
    "Client": "dockyard.client.client",
    "Settings": "dockyard.core.config",
    "load_settings": "dockyard.core.config",
    "Principal": "dockyard.core.principal",
    "Project": "dockyard.projects.schemas",
    "DockyardError": "dockyard.core.errors",
    "InvalidInput": "dockyard.core.errors",
    "DigestMismatch": "dockyard.core.errors",
    "NotFound": "dockyard.core.errors",
    "Conflict": "dockyard.core.errors",
    "Unauthorized": "dockyard.core.errors",
    "Forbidden": "dockyard.core.errors",
    "Unavailable": "dockyard.core.errors",
    "InvalidQuery": "dockyard.core.errors",
    "Run": "dockyard.tracking.schemas",
    "ActiveRun": "dockyard.sdk.runs",
    "Capture": "dockyard.sdk.capture",
    "start_run": "dockyard.sdk.runs",
    "active_run": "dockyard.sdk.runs",
    "log_metric": "dockyard.sdk.runs",
    "log_metrics": "dockyard.sdk.runs",
    "log_params": "dockyard.sdk.runs",
    "set_tags": "dockyard.sdk.runs",
    "deliver_spool": "dockyard.sdk.runs",
    "dataset": "dockyard.sdk.data",
    "DatasetHandle": "dockyard.sdk.data",
    "DatasetVersion": "dockyard.sdk.data",
    "log_model": "dockyard.sdk.models",
    "register_model": "dockyard.sdk.models",
    "load_model": "dockyard.sdk.models",
    "set_alias": "dockyard.sdk.models",
    "rollback_alias": "dockyard.sdk.models",
    "set_alias_policy": "dockyard.sdk.models",
    "alias_history": "dockyard.sdk.models",
    "check_gates": "dockyard.sdk.models",
    "model_card": "dockyard.sdk.models",
    "set_traffic": "dockyard.sdk.models",
    "clear_traffic": "dockyard.sdk.models",
    "freeze": "dockyard.sdk.models",
    "unfreeze": "dockyard.sdk.models",
    "predict_batch": "dockyard.sdk.predict",
    "BatchPredictions": "dockyard.sdk.predict",
    "LoggedModel": "dockyard.sdk.models",
    "ModelVersion": "dockyard.registry.schemas",
    "FeatureLookup": "dockyard.registry.manifest",
    "prediction_log": "dockyard.sdk.serving",
    "trace": "dockyard.sdk.serving",
    "GateFailed": "dockyard.core.errors",
    "ModelFrozen": "dockyard.core.errors",
    "PythonModel": "dockyard.registry.flavors.pyfunc",
    "step": "dockyard.pipelines.graph",
    "pipeline": "dockyard.pipelines.graph",
    "load": "dockyard.pipelines.graph",
    "Model": "dockyard.pipelines.graph",
    "Step": "dockyard.pipelines.graph",
    "Pipeline": "dockyard.pipelines.graph",
    "Resources": "dockyard.compute.executor",
    "run": "dockyard.sdk.pipelines",
    "resume": "dockyard.sdk.pipelines",
    "PipelineResult": "dockyard.sdk.pipelines",
    "Entity": "dockyard.features.definitions",
    "FeatureView": "dockyard.features.definitions",
    "Field": "dockyard.features.definitions",
    "Aggregate": "dockyard.features.definitions",
    "OnDemand": "dockyard.features.definitions",
    "features": "dockyard.features",  # the subpackage itself (see __getattr__)
    "monitor": "dockyard.sdk.monitoring",
    "log_labels": "dockyard.sdk.monitoring",
    "Webhook": "dockyard.sdk.monitoring",
    "Retrain": "dockyard.sdk.monitoring",
    "Rollback": "dockyard.sdk.monitoring",
    "Freeze": "dockyard.sdk.monitoring",
    "monitoring": "dockyard.monitoring",  # the subpackage itself (see __getattr__)
}

__all__ = [
    "ActiveRun",
    "Aggregate",
    "BatchPredictions",
    "Capture",
    "Client",
    "Conflict",
    "DatasetHandle",
    "DatasetVersion",
    "DigestMismatch",
    "DockyardError",
    "Entity",
    "FeatureLookup",
    "FeatureView",
    "Field",
    "Forbidden",
    "Freeze",
    "GateFailed",
    "InvalidInput",
    "InvalidQuery",
    "LoggedModel",
    "Model",
    "ModelFrozen",
    "ModelVersion",
    "NotFound",
    "OnDemand",
    "Pipeline",
    "PipelineResult",
    "Principal",
    "Project",
    "PythonModel",
    "Resources",
    "Retrain",
    "Rollback",
    "Run",
    "Settings",
    "Step",
    "Unauthorized",
    "Unavailable",
    "Webhook",
    "__version__",
    "active_run",
    "alias_history",
    "check_gates",
    "clear_traffic",
    "connect",
    "dataset",
    "deliver_spool",
    "features",
    "freeze",
    "load",
    "load_model",
    "load_settings",
    "log_labels",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_params",
    "model_card",
    "monitor",
    "monitoring",
    "pipeline",
    "predict_batch",
    "prediction_log",
    "register_model",
    "resume",
    "rollback_alias",
    "run",
    "set_alias",
    "set_alias_policy",
    "set_tags",
    "set_traffic",
    "start_run",
    "step",
    "trace",
    "unfreeze",
]

if TYPE_CHECKING:
    from dockyard.client.client import Client, connect
    from dockyard.compute.executor import Resources
    from dockyard.core.config import Settings, load_settings
    from dockyard.core.errors import (
        Conflict,
        DigestMismatch,
        DockyardError,
        Forbidden,
        GateFailed,
        InvalidInput,
        InvalidQuery,
        ModelFrozen,
        NotFound,
        Unauthorized,
        Unavailable,
    )
    from dockyard.core.principal import Principal
    from dockyard.pipelines.graph import Model, Pipeline, Step, load, pipeline, step
    from dockyard.projects.schemas import Project
    from dockyard.registry.flavors.pyfunc import PythonModel
    from dockyard.registry.manifest import FeatureLookup
    from dockyard.registry.schemas import ModelVersion
    from dockyard.sdk.capture import Capture
    from dockyard.sdk.data import DatasetHandle, DatasetVersion, dataset
    from dockyard.sdk.models import (
        LoggedModel,
        alias_history,
        check_gates,
        clear_traffic,
        freeze,
        load_model,
        log_model,
        model_card,
        register_model,
        rollback_alias,
        set_alias,
        set_alias_policy,
        set_traffic,
        unfreeze,
    )
    from dockyard.sdk.pipelines import PipelineResult, resume, run
    from dockyard.sdk.predict import BatchPredictions, predict_batch
    from dockyard.sdk.runs import (
        ActiveRun,
        active_run,
        deliver_spool,
        log_metric,
        log_metrics,
        log_params,
        set_tags,
        start_run,
    )
    from dockyard.sdk.serving import prediction_log, trace
    from dockyard.tracking.schemas import Run


def __getattr__(name: str) -> Any:
    if name == "features":  # dy.features.apply(...): the subpackage, whose functions are lazy
        return importlib.import_module("dockyard.features")
    if name == "monitoring":  # dy.monitoring.report(...): the subpackage, whose functions are lazy
        return importlib.import_module("dockyard.monitoring")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
