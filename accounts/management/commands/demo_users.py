import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import NATIONAL, Role, User
from accounts.services import user_create, user_update

DEMO_USERS = [
    ("admin", Role.ADMIN, NATIONAL, "Administradora", "Demo"),
    ("analyst", Role.ANALYST, NATIONAL, "Analista", "Demo"),
    ("policymaker", Role.POLICY_MAKER, "08", "Decisora", "Cusco"),
    ("staff", Role.SCHOOL_STAFF, "080101", "Docente", "Cusco"),
]


def demo_password() -> str:
    """DEMO_PASSWORD if set, else one generated on the first run and kept under var/ so reruns agree."""
    if os.environ.get("DEMO_PASSWORD"):
        return os.environ["DEMO_PASSWORD"]
    path = settings.VAR_DIR / "demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = "Create or refresh the four demo users (one per role); safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        password = demo_password()
        for username, role, region, first, last in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(
                    actor=None,
                    username=username,
                    password=None,
                    role=role,
                    region=region,
                    first_name=first,
                    last_name=last,
                    email=f"{username}@example.org",
                )
            else:
                user_update(actor=None, user=user, role=role, region=region, is_active=True)
            user.set_password(password)
            user.save(update_fields=["password"])
        self.stdout.write(f"demo users: {', '.join(u[0] for u in DEMO_USERS)}; password: {password}")
