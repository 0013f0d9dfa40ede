from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts.models import AuditEvent, DeletionRequest, Role, User, normalise_region, region_codes

AUDITED_USER_FIELDS = ("role", "region", "is_active", "email", "first_name", "last_name")


def audit_record(
    *, actor: User | None, action: str, target, changes: dict | None = None, reason: str = ""
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor and actor.pk else None,
        actor_username=actor.username if actor else "system",
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        changes=changes or {},
        reason=reason,
    )


def region_validate(*, region: str) -> str:
    """Normalise a region and check that every code names an area in the registry (once it is loaded)."""
    from datasets.models import area_codes_missing

    region = normalise_region(region)
    missing = area_codes_missing([code for code in region_codes(region) if code])
    if missing:
        raise ValidationError(_("Unknown ubigeo: %(codes)s.") % {"codes": ", ".join(missing)}, code="unknown_ubigeo")
    return region


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str | None = None,
    role: str = Role.SCHOOL_STAFF,
    region: str = "",
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    user = User(
        username=username,
        role=role,
        region=region_validate(region=region),
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    if password:
        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        actor=actor,
        action="user.create",
        target=user,
        changes={field: [None, getattr(user, field)] for field in ("role", "region", "is_active")},
    )
    return user


@transaction.atomic
def user_update(*, actor: User | None, user: User, reason: str = "", **fields) -> User:
    """Change a user's profile, role, region or active flag; every change is audited."""
    if "region" in fields:
        fields["region"] = region_validate(region=fields["region"])
    changes = {}
    for field, value in fields.items():
        if field not in AUDITED_USER_FIELDS:
            raise ValueError(f"user_update cannot change {field}")
        old = getattr(user, field)
        if old != value:
            changes[field] = [old, value]
            setattr(user, field, value)
    if not changes:
        return user
    if actor is not None and actor.pk == user.pk and ("role" in changes or "is_active" in changes):
        raise ValidationError(_("You cannot change your own role or deactivate yourself."), code="self_change")
    user.full_clean(exclude=["password"])
    user.save(update_fields=list(changes))
    if changes.get("is_active") == [True, False]:
        user_sessions_end(user=user)
    action = "user.deactivate" if changes.get("is_active") == [True, False] else "user.update"
    audit_record(actor=actor, action=action, target=user, changes=changes, reason=reason)
    return user


def user_deactivate(*, actor: User | None, user: User, reason: str = "") -> User:
    return user_update(actor=actor, user=user, is_active=False, reason=reason)


def user_set_password(*, actor: User | None, user: User, password: str) -> User:
    validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    user_sessions_end(user=user)
    audit_record(actor=actor, action="user.password", target=user)
    return user


def user_sessions_end(*, user: User) -> int:
    """Delete the user's API tokens and every server-side session that belongs to them."""
    Token.objects.filter(user=user).delete()
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


# --- Personal data (Ley 29733 de Protección de Datos Personales and its 2024 regulation) -------------------------


def user_data_export(*, user: User) -> dict:
    """Everything the platform holds about a person, as JSON-ready data."""
    from datasets.models import Upload
    from feedback.models import Feedback
    from jobs.models import Job
    from recommendations.models import Transition

    def rows(queryset, fields):
        return [
            {f: (v.isoformat() if hasattr(v, "isoformat") else v) for f, v in zip(fields, row, strict=True)}
            for row in queryset.values_list(*fields)
        ]

    return {
        "profile": {
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "role": user.role,
            "region": user.region,
            "is_active": user.is_active,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "audit_about_you": rows(
            AuditEvent.objects.filter(target_type="accounts.user", target_id=str(user.pk)),
            ["created_at", "actor_username", "action", "changes", "reason"],
        ),
        "audit_by_you": rows(
            AuditEvent.objects.filter(actor=user),
            ["created_at", "action", "target_type", "target_id", "changes", "reason"],
        ),
        "feedback": rows(
            Feedback.objects.filter(author=user),
            [
                "created_at",
                "ubigeo",
                "subject",
                "agrees",
                "observed_value",
                "observed_source",
                "implemented",
                "useful",
                "observed_change",
                "comment",
                "status",
                "triage_reason",
            ],
        ),
        "review_steps": rows(
            Transition.objects.filter(actor=user),
            ["created_at", "recommendation_id", "action", "from_status", "to_status", "comment"],
        ),
        "jobs": rows(Job.objects.filter(created_by=user), ["created_at", "kind", "status", "params"]),
        "uploads": rows(Upload.objects.filter(created_by=user), ["created_at", "original_name", "sha256", "note"]),
        "deletion_requests": rows(DeletionRequest.objects.filter(user=user), ["created_at", "reason", "done_at"]),
    }


def deletion_request_create(*, user: User, reason: str = "") -> DeletionRequest:
    pending = DeletionRequest.objects.filter(user=user, done_at__isnull=True).first()
    if pending is not None:
        return pending
    request = DeletionRequest.objects.create(user=user, username=user.username, reason=(reason or "")[:2000])
    audit_record(actor=user, action="user.deletion_requested", target=user, reason=reason or "")
    return request


PERSONAL_FIELDS = {"username", "email", "first_name", "last_name"}


@transaction.atomic
def user_anonymise(*, actor: User, user: User) -> User:
    """Remove what identifies the person; keep what they contributed (labels, decisions) anonymously."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    from feedback.models import Feedback
    from recommendations.models import Transition

    alias = f"deleted-{user.pk}"
    user_sessions_end(user=user)
    for model in (AccessAttempt, AccessFailureLog, AccessLog):  # sign-in records: username, address, browser
        model.objects.filter(username=user.username).delete()
    AuditEvent.objects.filter(actor=user).update(actor_username=alias)
    # Events about the person: their old name and contact details go, what was done (role, region) stays.
    about = AuditEvent.objects.filter(target_type=user._meta.label_lower, target_id=str(user.pk))
    for event in about:
        changes = event.changes if isinstance(event.changes, dict) else {}
        event.changes = {k: (["(removed)", "(removed)"] if k in PERSONAL_FIELDS else v) for k, v in changes.items()}
        event.target_repr = alias
        if event.action == "user.deletion_requested":
            event.reason = ""
    AuditEvent.objects.bulk_update(about, ["changes", "target_repr", "reason"])
    Transition.objects.filter(actor=user).update(actor_username=alias, actor=None)
    Feedback.objects.filter(author=user).update(author=None, comment="", observed_source="", anonymised=True)
    user.username, user.first_name, user.last_name, user.email = alias, "", "", ""
    user.is_active = False
    user.set_unusable_password()
    user.save()
    DeletionRequest.objects.filter(user=user, done_at__isnull=True).update(
        done_at=timezone.now(), done_by=actor.username if actor else "system", username=alias, reason=""
    )
    audit_record(actor=actor, action="user.anonymised", target=user)
    return user
