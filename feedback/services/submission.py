"""Feedback from the field and its triage into training labels.

School staff and policy makers say, for a district of their region, whether a prediction is right (with the
value they observed and its source) or what happened with a recommendation. Analysts accept (as a training
label), reject or ask for more information, with a reason the author sees. Accepted values become labels, pending
until an analyst publishes them as the next numbered label set; datasets are never overwritten.
"""

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core.exceptions import ApplicationError, Conflict
from feedback.models import Feedback, Label, LabelSet
from predictions.models import Prediction
from recommendations.models import Recommendation

TEXT_MAX = 2000
SOURCE_MAX = 300
DECISIONS = {
    "accept": Feedback.Status.ACCEPTED,
    "reject": Feedback.Status.REJECTED,
    "needs_info": Feedback.Status.NEEDS_INFO,
}
AUTHORS = (Role.SCHOOL_STAFF, Role.POLICY_MAKER)


class TooManyRequests(ApplicationError):
    status_code = 429


def _rate(text: str) -> tuple[int, int]:
    count, _slash, period = text.partition("/")
    seconds = {"minute": 60, "hour": 3600, "day": 86400}.get(period.strip(), 3600)
    return int(count), seconds


def rate_limit_check(user) -> None:
    """At most FEEDBACK_RATE submissions per user and period, for the API and the pages alike."""
    limit, seconds = _rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["feedback"])
    key = f"feedback-rate:{user.pk}:{int(timezone.now().timestamp()) // seconds}"
    cache.add(key, 0, timeout=seconds)
    if cache.incr(key) > limit:
        raise TooManyRequests(
            _("Too many feedback submissions; try again later (limit %(rate)s).")
            % {"rate": settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["feedback"]}
        )


def feedback_for_user(user):
    """Authors see their own feedback; analysts and administrators see everything inside their region."""
    if not user.is_authenticated or not user.is_active:
        return Feedback.objects.none()
    if user.can_analyse:
        return Feedback.objects.filter(user.ubigeo_q("ubigeo"))
    return Feedback.objects.filter(author=user)


def feedback_submit(
    *,
    user,
    ubigeo: str,
    subject: str,
    prediction: int | None = None,
    recommendation: int | None = None,
    agrees: bool | None = None,
    observed_value: float | None = None,
    observed_source: str = "",
    implemented: bool | None = None,
    implemented_on=None,
    useful: bool | None = None,
    observed_change: float | None = None,
    comment: str = "",
) -> Feedback:
    if not (user.is_administrator or user.role in AUTHORS):
        raise PermissionDenied(_("Only school staff and policy makers give feedback."))
    if not user.can_access_ubigeo(ubigeo):
        raise Http404  # a district outside the author's region does not exist for them
    comment, observed_source = (comment or "").strip(), (observed_source or "").strip()
    errors = {}
    if len(comment) > TEXT_MAX:
        errors["comment"] = _("The comment is longer than %(max)d characters.") % {"max": TEXT_MAX}
    if len(observed_source) > SOURCE_MAX:
        errors["observed_source"] = _("The source is longer than %(max)d characters.") % {"max": SOURCE_MAX}
    if observed_value is not None and not 0 <= observed_value <= 100:
        errors["observed_value"] = _("The observed value is a percentage between 0 and 100.")
    if observed_value is not None and not observed_source:
        errors["observed_source"] = _("Say where the observed value comes from.")
    if observed_change is not None and not -100 <= observed_change <= 100:
        errors["observed_change"] = _("The observed change is in points, between -100 and 100.")
    item = {}
    if subject == Feedback.Subject.PREDICTION:
        target = Prediction.objects.filter(pk=prediction, ubigeo=ubigeo).first() if prediction else None
        if target is None:
            errors["prediction"] = _("Choose a prediction for this district.")
        item["prediction"] = target
    elif subject == Feedback.Subject.RECOMMENDATION:
        target = Recommendation.objects.filter(pk=recommendation, ubigeo=ubigeo).first() if recommendation else None
        if target is None:
            errors["recommendation"] = _("Choose a recommendation for this district.")
        item["recommendation"] = target
    else:
        errors["subject"] = _("Feedback is about a prediction or a recommendation.")
    if errors:
        raise ValidationError(errors)
    rate_limit_check(user)
    try:
        with transaction.atomic():
            return Feedback.objects.create(
                author=user,
                author_role=user.role,
                ubigeo=ubigeo,
                subject=subject,
                agrees=agrees,
                observed_value=observed_value,
                observed_source=observed_source,
                implemented=implemented,
                implemented_on=implemented_on,
                useful=useful,
                observed_change=observed_change,
                comment=comment,
                day=timezone.localdate(),
                **item,
            )
    except IntegrityError:
        raise Conflict(_("You already sent feedback on this item today; you can send more tomorrow."))


def feedback_triage(*, user, feedback: Feedback, decision: str, reason: str = "") -> Feedback:
    """Accept, reject or ask for more; one conditional UPDATE, so a label is never accepted twice."""
    if not user.can_analyse:
        raise PermissionDenied
    if not user.can_access_ubigeo(feedback.ubigeo):
        raise Http404
    if decision not in DECISIONS:
        raise ValidationError({"decision": _("Decide accept, reject or needs_info.")})
    reason = (reason or "").strip()
    if len(reason) > TEXT_MAX:
        raise ValidationError({"reason": _("The reason is longer than %(max)d characters.") % {"max": TEXT_MAX}})
    if decision != "accept" and not reason:
        raise ValidationError({"reason": _("Tell the author why.")})
    status = DECISIONS[decision]
    with transaction.atomic():
        updated = Feedback.objects.filter(
            pk=feedback.pk, status__in=[Feedback.Status.NEW, Feedback.Status.NEEDS_INFO]
        ).update(status=status, triage_reason=reason, triaged_by=user, triaged_at=timezone.now())
        feedback.refresh_from_db()
        if not updated:
            raise Conflict(
                _("This feedback was already decided: %(status)s.") % {"status": feedback.get_status_display()},
                extra={"status": feedback.status},
            )
        if (
            status == Feedback.Status.ACCEPTED
            and feedback.subject == Feedback.Subject.PREDICTION
            and feedback.observed_value is not None
        ):
            Label.objects.create(
                target=feedback.prediction.run.model.target if feedback.prediction else "",
                ubigeo=feedback.ubigeo,
                value=feedback.observed_value,
                source=feedback.observed_source,
                feedback=feedback,
                accepted_by=user,
            )
    label = getattr(feedback, "label", None) if status == Feedback.Status.ACCEPTED else None
    if label is not None:
        transaction.on_commit(lambda: _retrain_if_enough(label.target))
    return feedback


def _retrain_if_enough(target: str) -> None:
    from feedback.services.retraining import retrain_when_labels_enough

    retrain_when_labels_enough(target)


def label_set_publish(*, user, target: str, note: str = "") -> LabelSet:
    """Freeze the pending labels of a target as the next numbered label set."""
    if user is not None and not user.can_analyse:
        raise PermissionDenied
    with transaction.atomic():
        pending = Label.objects.select_for_update().filter(label_set__isnull=True, target=target)
        if not pending.exists():
            raise ApplicationError(_("There are no accepted labels waiting to be published."))
        number = (LabelSet.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        label_set = LabelSet.objects.create(number=number, target=target, note=note, created_by=user)
        pending.update(label_set=label_set)
    return label_set
