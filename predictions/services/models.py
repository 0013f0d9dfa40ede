"""Model versions: where their artifacts live, loading them once per worker process, predicting with them."""

import functools
import importlib.metadata
import os
import subprocess
from pathlib import Path

import pandas as pd
from django.conf import settings

from predictions.ml import artifacts
from predictions.ml.suite import TrainedModel, predict_table, predict_value_and_members
from predictions.models import ModelVersion

LIBRARIES = ("scikit-learn", "torch", "numpy", "pandas", "scipy", "joblib", "Django")
_LOADED: dict[tuple[int, str], TrainedModel] = {}


def artifact_path(*, job_id: int, algorithm: str) -> Path:
    return Path(settings.MODEL_ARTIFACT_DIR) / f"job-{job_id}" / algorithm


def library_versions() -> dict:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


@functools.cache
def code_version() -> str:
    """APP_VERSION when the deployment sets it (containers have no .git), else the checkout's commit."""
    if os.environ.get("APP_VERSION"):
        return os.environ["APP_VERSION"][:64]
    try:
        return (
            subprocess.run(  # noqa: S603 - fixed command
                ["git", "rev-parse", "--short=12", "HEAD"],
                cwd=settings.BASE_DIR,
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def model_load(version: ModelVersion) -> TrainedModel:
    """The fitted model of a version, read from its artifact once per process and checked against its sha256."""
    key = (version.pk, version.sha256)
    if key not in _LOADED:
        _LOADED[key] = artifacts.load_model(version.artifact, expected_sha256=version.sha256)
    return _LOADED[key]


def predict(version: ModelVersion, table: pd.DataFrame) -> pd.DataFrame:
    return predict_table(model_load(version), table)


def value_and_member_predictions(version: ModelVersion, table: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The version's own prediction and each of its members', computed in one pass."""
    return predict_value_and_members(model_load(version), table)
