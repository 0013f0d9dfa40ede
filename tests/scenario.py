"""A trained model and everything downstream of it, for tests of predictions, plans, review and feedback.

The model is really trained, once per test session, by the ML package on the real feature table (fast settings),
and saved as an artifact; each test registers it as a champion and scores Peru with the platform's own
prediction-run service, exactly as the worker does after a training job.
"""

import functools

from django.conf import settings

from datasets.models import FeatureSnapshot
from jobs.models import Job
from jobs.services import job_run
from predictions.ml import artifacts
from predictions.ml.suite import train_suite
from predictions.models import ModelVersion, PredictionRun
from predictions.services.models import code_version, library_versions
from predictions.services.runs import prediction_run

FAST = {"fast": True, "n_splits": 3}


@functools.cache
def trained(snapshot_sha: str, algorithm: str = "ridge"):
    """(suite result, artifact path, manifest), trained once per session and table."""
    snapshot = FeatureSnapshot.objects.get(sha256=snapshot_sha)
    suite = train_suite(snapshot.to_frame(), algorithms=[algorithm], options=FAST)
    path = settings.MODEL_ARTIFACT_DIR / f"session-{algorithm}-{snapshot_sha[:8]}"
    manifest = artifacts.save_model(suite.algorithms[algorithm].model, path)
    return suite, path, manifest


def register_model(
    *, status=ModelVersion.Status.CHAMPION, algorithm: str = "ridge", created_by=None, r2_offset: float = 0.0
) -> ModelVersion:
    snapshot = FeatureSnapshot.objects.get(name="Línea base nacional")
    suite, path, manifest = trained(snapshot.sha256, algorithm)
    result = suite.algorithms[algorithm]
    grouped = {**result.metrics["group"], "r2": result.metrics["group"]["r2"] + r2_offset}
    return ModelVersion.objects.create(
        algorithm=algorithm,
        target=suite.target,
        params=result.params,
        features=result.features,
        options=suite.summary()["options"],
        snapshot=snapshot,
        metrics={"grouped_cv": grouped, "kfold_cv": result.metrics["kfold"], "baselines": suite.baselines},
        interval=result.conformal,
        out_of_fold={u: [suite.observed.get(u), v] for u, v in result.oof_predictions["group"].items()},
        artifact=str(path),
        sha256=manifest["sha256"],
        code_version=code_version(),
        library_versions=library_versions(),
        training_rows=suite.n_labelled,
        status=status,
        created_by=created_by,
    )


def scored_run(model: ModelVersion, user=None) -> PredictionRun:
    """Every district scored by `model` through the prediction-run service, as the worker would."""
    run = PredictionRun.objects.create(model=model, snapshot=model.snapshot, created_by=user)
    run.job = Job.objects.create(kind=Job.Kind.PREDICTION_RUN, created_by=user, params={"run": run.pk})
    run.save(update_fields=["job"])
    job = job_run(job_id=run.job_id, handler=lambda job, progress: prediction_run(job=job, progress=progress))
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    run.refresh_from_db()
    return run
