"""The main menu: which pages each role sees. One list, so the menu and the role rules cannot drift apart."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Role

EVERYONE = (Role.ADMIN, Role.ANALYST, Role.POLICY_MAKER, Role.SCHOOL_STAFF)
ANALYSTS = (Role.ADMIN, Role.ANALYST)


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str
    url_name: str
    roles: tuple


MENU = [
    MenuItem("home", _("Home"), "core:home", EVERYONE),
    MenuItem("areas", _("Districts"), "datasets:area_index", EVERYONE),
    MenuItem("datasets", _("Datasets"), "datasets:dataset_list", ANALYSTS),
    MenuItem("feature_tables", _("Feature tables"), "datasets:snapshot_list", ANALYSTS),
    MenuItem("models", _("Models"), "predictions:model_list", ANALYSTS),
    MenuItem("map", _("Map"), "predictions:map", EVERYONE),
    MenuItem("predictions", _("Predictions"), "predictions:run_list", EVERYONE),
    MenuItem("plans", _("Plans"), "recommendations:plan_list", (Role.ADMIN, Role.ANALYST, Role.POLICY_MAKER)),
    MenuItem("review", _("Review"), "recommendations:review_queue", (Role.ADMIN, Role.POLICY_MAKER)),
    MenuItem(
        "interventions",
        _("Interventions"),
        "recommendations:intervention_list",
        (Role.ADMIN, Role.ANALYST, Role.POLICY_MAKER),
    ),
    MenuItem("feedback", _("Feedback"), "feedback:home", EVERYONE),
    MenuItem("users", _("Users"), "accounts:user_list", (Role.ADMIN,)),
    MenuItem("audit", _("Audit trail"), "accounts:audit_list", (Role.ADMIN,)),
    MenuItem("me", _("My data"), "accounts:me", EVERYONE),
]


def menu_for(user) -> list[dict]:
    if not user.is_authenticated or not user.is_active:
        return []
    role = Role.ADMIN if user.is_administrator else user.role
    return [
        {"key": item.key, "label": item.label, "url": reverse(item.url_name)} for item in MENU if role in item.roles
    ]
