"""Retraining: a challenger trained on the newest feature table and every published label set, compared with the
champion on the same folds, and promoted only when it is better by the configured margin.

Triggers: the weekly beat schedule (RETRAIN_SCHEDULE), RETRAIN_MIN_LABELS newly accepted labels, or drift above
DRIFT_ALARM_PSI. Only one retraining runs at a time: a request while one is queued or running is answered with
that job (it waits for it), never a second one, and the database allows one champion per target.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.services import audit_record
from datasets.models import FeatureSnapshot
from feedback.models import Label, LabelSet
from jobs.models import Job
from jobs.services import job_commit, job_create
from predictions.ml import artifacts
from predictions.ml.retraining import compare_challenger
from predictions.ml.targets import DEFAULT_TARGET
from predictions.models import ModelVersion
from predictions.services.models import artifact_path, code_version, library_versions
from predictions.services.runs import champion as current_champion
from predictions.services.training import training_table


def retrain_request(*, user, reason: str, target: str = DEFAULT_TARGET, quiet: bool = False) -> Job | None:
    """Queue a retraining unless one is already queued or running (then return that one)."""
    if user is not None and not user.can_analyse:
        raise PermissionDenied
    if current_champion(target) is None:
        if quiet:
            return None
        from core.exceptions import ApplicationError

        raise ApplicationError(_("There is no champion to challenge yet: train models first."))
    with transaction.atomic():
        # Serialise requests on the champion's row: two triggers at once see each other's job.
        ModelVersion.objects.select_for_update().filter(target=target, status=ModelVersion.Status.CHAMPION).first()
        running = Job.objects.filter(kind=Job.Kind.MODEL_RETRAIN, status__in=Job.ACTIVE).first()
        if running is not None:
            return running
        return job_create(
            kind=Job.Kind.MODEL_RETRAIN, created_by=user, params={"target": target, "reason": reason[:300]}, scope="PE"
        )


def retrain_when_labels_enough(target: str = DEFAULT_TARGET) -> Job | None:
    """Once RETRAIN_MIN_LABELS accepted labels wait unpublished, publish them as the next label set and retrain,
    so the challenger learns from them. Published labels no longer count: a kept champion is not challenged
    again by every later acceptance."""
    from feedback.services.submission import label_set_publish

    if current_champion(target) is None:
        return None
    pending = Label.objects.filter(target=target, label_set__isnull=True).count()
    if pending < settings.RETRAIN_MIN_LABELS:
        return None
    label_set = label_set_publish(
        user=None, target=target, note=f"Published for retraining: {pending} accepted labels (RETRAIN_MIN_LABELS)"
    )
    return retrain_request(
        user=None, reason=f"{pending} new labels (label set {label_set.number})", target=target, quiet=True
    )


def model_retrain(*, job: Job, progress) -> dict:
    target = job.params["target"]
    existing = ModelVersion.objects.filter(training_job=job).first()
    if existing is not None:
        return {"challenger": existing.pk, "decision": existing.metrics.get("decision")}
    champion = current_champion(target)
    if champion is None:
        return {"decision": "no champion"}
    snapshot = FeatureSnapshot.objects.order_by("-created_at").first()
    label_sets = list(LabelSet.objects.filter(target=target).prefetch_related("labels"))
    old_sets = list(champion.label_sets.prefetch_related("labels"))
    progress(2, _("Comparing a challenger with the champion on the same folds"))
    comparison = compare_challenger(
        champion_table=training_table(champion.snapshot, target, old_sets),
        challenger_table=training_table(snapshot, target, label_sets),
        algorithm=champion.algorithm,
        target=target,
        options=champion.options,
        progress=lambda p, m: progress(2 + 0.9 * p, m),
    )
    gain = comparison["challenger"]["r2"] - comparison["champion"]["r2"]
    promote = gain >= settings.RETRAIN_MARGIN and settings.RETRAIN_AUTO_PROMOTE
    decision = "promoted" if promote else ("awaiting_analyst" if gain >= settings.RETRAIN_MARGIN else "kept")
    progress(94, _("Saving the challenger"))
    path = artifact_path(job_id=job.pk, algorithm=champion.algorithm)
    manifest = artifacts.save_model(comparison["model"], path)
    with transaction.atomic():
        challenger = ModelVersion.objects.create(
            algorithm=champion.algorithm,
            target=target,
            params=comparison["params"],
            features=comparison["features"],
            options=champion.options,
            snapshot=snapshot,
            training_job=job,
            metrics={
                "grouped_cv": comparison["challenger"],
                "champion_same_folds": comparison["champion"],
                "gain_r2": gain,
                "decision": decision,
                "compared_with": champion.pk,
                "reason": job.params.get("reason", ""),
            },
            interval=comparison["conformal"],
            out_of_fold=comparison["out_of_fold"],
            artifact=str(path),
            sha256=manifest["sha256"],
            code_version=code_version(),
            library_versions=library_versions(),
            training_seconds=comparison["seconds"],
            training_rows=comparison["n_labelled"],
            created_by=job.created_by,
        )
        challenger.label_sets.set(label_sets)
        if promote:
            updated = ModelVersion.objects.filter(pk=champion.pk, status=ModelVersion.Status.CHAMPION).update(
                status=ModelVersion.Status.ARCHIVED
            )
            if updated:
                ModelVersion.objects.filter(pk=challenger.pk).update(
                    status=ModelVersion.Status.CHAMPION, promoted_at=timezone.now()
                )
                audit_record(
                    actor=None,
                    action="model.auto_promote",
                    target=challenger,
                    changes={"replaced": champion.pk, "gain_r2": round(gain, 4)},
                    reason=f"retraining ({job.params.get('reason', '')}); margin {settings.RETRAIN_MARGIN}",
                )
        job_commit(job=job)
    if promote:
        from predictions.services.runs import prediction_run_request

        prediction_run_request(user=None, model=challenger)
    _report(challenger, champion, gain, decision)
    return {"challenger": challenger.pk, "champion": champion.pk, "gain_r2": gain, "decision": decision}


DECISIONS = {
    "promoted": gettext_lazy("the challenger replaced the champion"),
    "awaiting_analyst": gettext_lazy("the challenger is better and awaits an analyst's promotion"),
    "kept": gettext_lazy("the champion stays"),
}


def _report(challenger: ModelVersion, champion: ModelVersion, gain: float, decision: str) -> None:
    """Analysts learn what the retraining found, whatever it decided."""
    decision = str(DECISIONS[decision])
    subject = _("[Plataforma] Retraining: %(decision)s") % {"decision": decision}
    body = _(
        "Challenger #%(new)s against champion #%(old)s on the same folds: grouped-CV R² %(a).3f against "
        "%(b).3f (gain %(gain)+.3f, margin %(margin).3f). Decision: %(decision)s.\n%(link)s"
    ) % {
        "new": challenger.pk,
        "old": champion.pk,
        "a": challenger.metrics["grouped_cv"]["r2"],
        "b": challenger.metrics["champion_same_folds"]["r2"],
        "gain": gain,
        "margin": settings.RETRAIN_MARGIN,
        "decision": decision,
        "link": f"{settings.SITE_URL}/models/{challenger.pk}/",
    }
    recipients = list(
        User.objects.filter(role=Role.ANALYST, is_active=True).exclude(email="").values_list("email", flat=True)
    )
    if recipients:
        send_mail(subject, body, None, recipients)
    else:
        mail_admins(subject, body)
