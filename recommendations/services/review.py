"""The review workflow of a recommendation.

    draft ──submit──▶ submitted ──approve──▶ approved ──implement──▶ implemented ──verify──▶ verified
      ▲                  │ │
      └──submit── changes_requested ◀─request_changes─┘ └──reject──▶ rejected

Analysts draft and submit; policy makers decide within their region; administrators may act anywhere, giving a
reason. Each transition is one conditional UPDATE from the expected state, so of two reviewers acting at once
exactly one wins and the other gets a 409 with the current state. Approvals are serialised per plan so that
together they never exceed the plan's budget.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role
from core.exceptions import Conflict
from recommendations.models import Plan, Recommendation, Transition

COMMENT_MAX = 2000
S = Recommendation.Status


@dataclass(frozen=True)
class Action:
    label: str
    sources: tuple
    target: str
    roles: tuple


ACTIONS = {
    "submit": Action(gettext_lazy("Submit for review"), (S.DRAFT, S.CHANGES_REQUESTED), S.SUBMITTED, (Role.ANALYST,)),
    "approve": Action(gettext_lazy("Approve"), (S.SUBMITTED,), S.APPROVED, (Role.POLICY_MAKER,)),
    "reject": Action(gettext_lazy("Reject"), (S.SUBMITTED,), S.REJECTED, (Role.POLICY_MAKER,)),
    "request_changes": Action(
        gettext_lazy("Request changes"), (S.SUBMITTED,), S.CHANGES_REQUESTED, (Role.POLICY_MAKER,)
    ),
    "implement": Action(gettext_lazy("Mark implemented"), (S.APPROVED,), S.IMPLEMENTED, (Role.POLICY_MAKER,)),
    "verify": Action(gettext_lazy("Mark verified"), (S.IMPLEMENTED,), S.VERIFIED, (Role.POLICY_MAKER,)),
}


def recommendations_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return Recommendation.objects.none()
    return Recommendation.objects.filter(user.ubigeo_q("ubigeo"))


def actions_for(user, recommendation: Recommendation) -> list[str]:
    """The actions this user could take now (shown as buttons); the service checks again when one is taken."""
    if not recommendation_can_see(user, recommendation):
        return []
    allowed = []
    for name, action in ACTIONS.items():
        if recommendation.status in action.sources and (user.is_administrator or user.role in action.roles):
            allowed.append(name)
    return allowed


def recommendation_can_see(user, recommendation: Recommendation) -> bool:
    return user.is_active and (user.is_administrator or user.can_access_ubigeo(recommendation.ubigeo))


def _committed_cost(plan: Plan):
    return (
        plan.recommendations.filter(status__in=Recommendation.COMMITTED).aggregate(total=Sum("cost_pen"))["total"] or 0
    )


def recommendation_transition(
    *, user, recommendation: Recommendation, action: str, comment: str = ""
) -> Recommendation:
    """Take `action` on the recommendation, or refuse with 400 (bad input), 403 (role), 404 (outside the
    region) or 409 (the state changed, or the budget would be exceeded)."""
    if action not in ACTIONS:
        raise ValidationError({"action": _("Unknown action %(action)s.") % {"action": action}})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": _("The comment is longer than %(max)d characters.") % {"max": COMMENT_MAX}})
    if not recommendation_can_see(user, recommendation):
        raise Http404
    spec = ACTIONS[action]
    if not user.is_administrator and user.role not in spec.roles:
        raise PermissionDenied(_("Your role cannot take this action: %(action)s.") % {"action": spec.label})
    if user.is_administrator and user.role not in spec.roles and not comment:
        raise ValidationError({"comment": _("Administrators acting for another role must give a reason.")})

    with transaction.atomic():
        if spec.target == S.APPROVED:
            plan = Plan.objects.select_for_update().get(pk=recommendation.plan_id)
            committed = _committed_cost(plan)
            if committed + recommendation.cost_pen > plan.budget_pen:
                raise Conflict(
                    _(
                        "Approving this recommendation (S/ %(cost)s) would take the plan past its budget: "
                        "S/ %(committed)s of S/ %(budget)s is already approved."
                    )
                    % {
                        "cost": f"{recommendation.cost_pen:,.0f}",
                        "committed": f"{committed:,.0f}",
                        "budget": f"{plan.budget_pen:,.0f}",
                    },
                    extra={"status": recommendation.status},
                )
        from_status = None
        for source in spec.sources:  # one conditional UPDATE per possible source state: we learn which held
            if Recommendation.objects.filter(pk=recommendation.pk, status=source).update(
                status=spec.target, updated_at=timezone.now()
            ):
                from_status = source
                break
        if from_status is None:
            recommendation.refresh_from_db(fields=["status", "updated_at"])
            raise Conflict(
                _("This recommendation is now %(status)s; %(action)s is not possible from that state.")
                % {"status": recommendation.get_status_display(), "action": spec.label},
                extra={"status": recommendation.status},
            )
        recommendation.refresh_from_db(fields=["status", "updated_at"])
        step = Transition.objects.create(
            recommendation=recommendation,
            actor=user,
            actor_username=user.username,
            actor_role=Role.ADMIN if user.is_administrator else user.role,
            action=action,
            from_status=from_status,
            to_status=spec.target,
            comment=comment,
        )
        transaction.on_commit(lambda: _notify(step.pk))
    return recommendation


def _notify(transition_id: int) -> None:
    from recommendations.tasks import notification_send_task

    notification_send_task.delay(transition_id)


def transition_recipients(step: Transition) -> list[str]:
    """The next actor: policy makers of the district once submitted, else the analyst who made the plan."""
    from accounts.models import User

    recommendation = step.recommendation
    if step.to_status == S.SUBMITTED:
        people = [
            u
            for u in User.objects.filter(role=Role.POLICY_MAKER, is_active=True).exclude(email="")
            if u.can_access_ubigeo(recommendation.ubigeo)
        ]
    else:
        creator = recommendation.plan.created_by
        people = [creator] if creator and creator.is_active and creator.email else []
    return sorted({person.email for person in people})


def transition_notify(*, transition_id: int) -> int:
    from django.core.mail import send_mail

    step = Transition.objects.select_related("recommendation__intervention", "recommendation__plan").get(
        pk=transition_id
    )
    recipients = transition_recipients(step)
    if not recipients:
        return 0
    recommendation = step.recommendation
    link = f"{settings.SITE_URL}/recommendations/{recommendation.pk}/"
    subject = _("[Plataforma] %(intervention)s in %(ubigeo)s: %(status)s") % {
        "intervention": recommendation.intervention.name,
        "ubigeo": recommendation.ubigeo,
        "status": recommendation.get_status_display(),
    }
    body = _("%(user)s moved the recommendation from %(from)s to %(to)s.\n\n%(comment)s\n\n%(link)s") % {
        "user": step.actor_username,
        "from": step.from_status,
        "to": step.to_status,
        "comment": step.comment,
        "link": link,
    }
    return send_mail(subject, body, None, recipients)
