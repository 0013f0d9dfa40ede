from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts.models import AuditEvent, Role, User, normalise_region, region_codes

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
