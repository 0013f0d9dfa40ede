"""Training a suite of models on a feature-table snapshot, registering them, and promoting a champion."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.services import audit_record
from core.exceptions import ApplicationError, Conflict
from datasets.models import FeatureSnapshot
from jobs.models import Job
from jobs.services import job_commit, job_create
from predictions.ml import artifacts
from predictions.ml.estimators import ALGORITHMS
from predictions.ml.suite import train_suite
from predictions.ml.targets import DEFAULT_TARGET, TARGETS
from predictions.models import ModelVersion
from predictions.services.models import artifact_path, code_version, library_versions

PROMOTION_METRIC = "r2"  # grouped-CV R², higher is better; equivalent to RMSE on the same districts


def training_options_validate(target: str, options) -> dict:
    """Only the options an analyst may set, with sane bounds; everything else stays at the suite's defaults."""
    from predictions.ml.features import NEIGHBOUR_GROUP, feature_groups

    if options in (None, ""):
        return {}
    if not isinstance(options, dict):
        raise ValidationError({"options": _('Options are an object, e.g. {"fast": true}.')})
    unknown = sorted(set(options) - {"groups", "weighting", "fast", "n_splits"})
    if unknown:
        raise ValidationError({"options": _("Unknown options: %(names)s.") % {"names": ", ".join(unknown)}})
    clean = {}
    if "fast" in options:
        if not isinstance(options["fast"], bool):
            raise ValidationError({"options": _("fast is true or false.")})
        clean["fast"] = options["fast"]
    if "n_splits" in options:
        if (
            isinstance(options["n_splits"], bool)
            or not isinstance(options["n_splits"], int)
            or not (2 <= options["n_splits"] <= 10)
        ):
            raise ValidationError({"options": _("n_splits is a whole number from 2 to 10.")})
        clean["n_splits"] = options["n_splits"]
    if "weighting" in options:
        if options["weighting"] not in ("reliability", "none"):
            raise ValidationError({"options": _("weighting is reliability or none.")})
        clean["weighting"] = options["weighting"]
    if "groups" in options:
        groups, known = options["groups"], set(feature_groups(target)) | {NEIGHBOUR_GROUP}
        if not isinstance(groups, dict) or set(groups) - known or not all(isinstance(v, bool) for v in groups.values()):
            raise ValidationError(
                {
                    "options": _("groups maps feature groups (%(names)s) to true or false.")
                    % {"names": ", ".join(sorted(known))}
                }
            )
        clean["groups"] = groups
    return clean


def default_snapshot() -> FeatureSnapshot | None:
    return FeatureSnapshot.objects.filter(name="Línea base nacional").order_by("-created_at").first() or (
        FeatureSnapshot.objects.order_by("-created_at").first()
    )


def model_train_request(
    *,
    user,
    target: str = "",
    snapshot: FeatureSnapshot | None = None,
    algorithms: list[str] | None = None,
    options: dict | None = None,
    label_sets=(),
    kind: str = Job.Kind.MODEL_TRAIN,
) -> Job:
    """Queue the training of a suite; answered at once, trained in the worker."""
    if user is not None and not user.can_analyse:
        raise PermissionDenied
    target = target or DEFAULT_TARGET
    if target not in TARGETS:
        raise ValidationError(
            {
                "target": _("Unknown target %(target)s; choose one of %(choices)s.")
                % {"target": target, "choices": ", ".join(TARGETS)}
            }
        )
    algorithms = list(algorithms or ALGORITHMS)
    unknown = sorted(set(algorithms) - set(ALGORITHMS))
    if unknown:
        raise ValidationError({"algorithms": _("Unknown algorithms: %(names)s.") % {"names": ", ".join(unknown)}})
    options = training_options_validate(target, options)
    snapshot = snapshot or default_snapshot()
    if snapshot is None:
        raise ApplicationError(_("There is no feature table to train on yet."))
    return job_create(
        kind=kind,
        created_by=user,
        params={
            "target": target,
            "snapshot": snapshot.pk,
            "algorithms": algorithms,
            "options": options,
            "label_sets": [label_set.pk for label_set in label_sets],
        },
        scope=user.effective_region if user else "",
    )


def training_table(snapshot: FeatureSnapshot, target: str, label_sets):
    """The snapshot's table, with accepted feedback labels (newest label set last wins) replacing the target."""
    from predictions.ml.targets import get_target

    table = snapshot.to_frame()
    spec = get_target(target)
    for label_set in sorted(label_sets, key=lambda s: s.number):
        for label in label_set.labels.all():
            if label.ubigeo in table.index:
                table = spec.with_label(table, label.ubigeo, label.value)
    return table


def model_train(*, job: Job, progress) -> dict:
    """In the worker: train, save every artifact, then register all versions in one transaction.

    A retried job (after a worker died) finds the versions its earlier attempt registered and stops there; the
    unique (job, algorithm) constraint makes a second set impossible anyway.
    """
    from feedback.models import LabelSet

    existing = list(ModelVersion.objects.filter(training_job=job))
    if existing:
        return {"models": [m.pk for m in existing]}
    params = job.params
    snapshot = FeatureSnapshot.objects.get(pk=params["snapshot"])
    label_sets = list(LabelSet.objects.filter(pk__in=params.get("label_sets", [])).prefetch_related("labels"))
    table = training_table(snapshot, params["target"], label_sets)
    try:
        suite = train_suite(
            table,
            target=params["target"],
            algorithms=params["algorithms"],
            options=params.get("options") or {},
            progress=lambda p, m: progress(0.95 * p, m),
        )
    except ValueError as exc:
        raise ApplicationError(str(exc))
    progress(96, _("Saving the models"))
    manifests = {}
    for name, result in suite.algorithms.items():
        manifests[name] = (
            artifact_path(job_id=job.pk, algorithm=name),
            artifacts.save_model(result.model, artifact_path(job_id=job.pk, algorithm=name)),
        )
    libraries, version = library_versions(), code_version()
    with transaction.atomic():
        created = []
        for name, result in suite.algorithms.items():
            path, manifest = manifests[name]
            metrics = {
                **result.metrics,
                "grouped_cv": result.metrics.get("group", {}),
                "kfold_cv": result.metrics.get("kfold", {}),
                "baselines": suite.baselines,
                "n_labelled": suite.n_labelled,
            }
            created.append(
                ModelVersion.objects.create(
                    algorithm=name,
                    target=suite.target,
                    params=result.params,
                    features=result.features,
                    options=suite.summary()["options"],
                    snapshot=snapshot,
                    training_job=job,
                    metrics=metrics,
                    interval=result.conformal,
                    out_of_fold={
                        u: [suite.observed.get(u), v] for u, v in result.oof_predictions.get("group", {}).items()
                    },
                    artifact=str(path),
                    sha256=manifest["sha256"],
                    code_version=version,
                    library_versions=libraries,
                    training_seconds=result.train_seconds,
                    training_rows=suite.n_labelled,
                    created_by=job.created_by,
                )
            )
        for model in created:
            model.label_sets.set(label_sets)
        champion = champion_first(target=suite.target, models=created, best=suite.champion)
        job_commit(job=job)
    return {
        "models": [m.pk for m in created],
        "best": suite.champion,
        "champion": champion.pk if champion else None,
        "seconds": round(suite.seconds, 1),
    }


def champion_first(*, target: str, models: list[ModelVersion], best: str) -> ModelVersion | None:
    """When a target has no champion, the best model of this run (by grouped CV) becomes it, and the
    platform scores every district with it."""
    if ModelVersion.objects.filter(target=target, status=ModelVersion.Status.CHAMPION).exists():
        return None
    winner = next(m for m in models if m.algorithm == best)
    try:
        with transaction.atomic():
            ModelVersion.objects.filter(pk=winner.pk).update(
                status=ModelVersion.Status.CHAMPION, promoted_at=timezone.now()
            )
    except IntegrityError:  # another run's model became champion a moment ago
        return None
    audit_record(
        actor=None,
        action="model.champion_first",
        target=winner,
        changes={"status": ["candidate", "champion"]},
        reason="first champion for the target",
    )
    from predictions.services.runs import prediction_run_request

    prediction_run_request(user=winner.created_by, model=winner)
    return winner


def model_promote(*, user, model: ModelVersion, reason: str = "") -> ModelVersion:
    """Make `model` the champion of its target. Refused when it is worse than the champion on grouped CV,
    unless a reason is given; every promotion is audited."""
    if not user.can_analyse:
        raise PermissionDenied
    reason = (reason or "").strip()
    if model.status == ModelVersion.Status.CHAMPION:
        raise Conflict(_("This model is already the champion."))
    with transaction.atomic():
        current = (
            ModelVersion.objects.select_for_update()
            .filter(target=model.target, status=ModelVersion.Status.CHAMPION)
            .first()
        )
        if current is not None:
            mine, theirs = model.grouped(PROMOTION_METRIC), current.grouped(PROMOTION_METRIC)
            if mine is not None and theirs is not None and mine < theirs and not reason:
                same = model.snapshot_id == current.snapshot_id
                raise Conflict(
                    _(
                        "Model #%(id)s is worse than the champion #%(champion)s on grouped cross-validation "
                        "(R² %(mine).3f < %(theirs).3f%(note)s). Give a reason to promote it anyway."
                    )
                    % {
                        "id": model.pk,
                        "champion": current.pk,
                        "mine": mine,
                        "theirs": theirs,
                        "note": "" if same else _("; trained on different feature tables"),
                    },
                    extra={"champion": current.pk, "candidate_r2": mine, "champion_r2": theirs},
                )
            ModelVersion.objects.filter(pk=current.pk).update(status=ModelVersion.Status.ARCHIVED)
        ModelVersion.objects.filter(pk=model.pk).update(
            status=ModelVersion.Status.CHAMPION, promoted_at=timezone.now(), promoted_by=user
        )
        audit_record(
            actor=user,
            action="model.promote",
            target=model,
            changes={"status": [model.status, "champion"], "replaced": current.pk if current else None},
            reason=reason,
        )
    model.refresh_from_db()
    from predictions.services.runs import prediction_run_request

    prediction_run_request(user=user, model=model)
    return model


def models_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return ModelVersion.objects.none()
    return ModelVersion.objects.all()
