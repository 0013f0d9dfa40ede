import os
import tempfile
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import NATIONAL, Role
from eduplatform.celery import app as celery_app
from tests.factories import PASSWORD, UserFactory

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.access", "tests.browser", "tests.workers"]

# Files the tests write (uploads, model artifacts) go to a temporary folder, not the developer's var/.
TEST_FILES = Path(tempfile.mkdtemp(prefix="eduplatform-test-"))
settings.MEDIA_ROOT = TEST_FILES / "media"
settings.MODEL_ARTIFACT_DIR = TEST_FILES / "models"

# Tests send their tasks to a queue of their own, so a platform running on the same broker never takes them.
TEST_QUEUE = f"test-{uuid.uuid4().hex[:8]}"
os.environ["CELERY_QUEUE"] = TEST_QUEUE
celery_app.conf.task_default_queue = TEST_QUEUE


def shared_peru_dir() -> Path:
    """The full public data set beside the repository (../shared/data/peru), which tests read."""
    candidates = [
        os.environ.get("PERU_SHARED_DATA", ""),
        REPO.parent / "shared" / "data" / "peru",
        Path("/work/shared/data/peru"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "README.md").exists():
            return Path(candidate)
    raise RuntimeError("The shared Peru data is missing: set PERU_SHARED_DATA to the shared/data/peru folder.")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load Peru once per test session, from ../shared (the full public data), as `make run` does from data/."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("load_peru", source=shared_peru_dir(), verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def peru_districts(django_db_blocker):
    """For tests on a flushed database (transaction=True): departments, provinces and districts, no places."""
    from datasets.models import District
    from datasets.services.registry import registry_load

    if not District.objects.exists():
        registry_load(source_dir=shared_peru_dir(), force=True, include_places=False, log=lambda *_: None)


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Unless a test starts a real worker, tasks enqueued on commit run in-process, after the response."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def make_user(db):
    def make(username, role=Role.SCHOOL_STAFF, region=NATIONAL, **kwargs):
        return UserFactory(username=username, role=role, region=region, **kwargs)

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("ana_admin", Role.ADMIN, NATIONAL)


@pytest.fixture
def analyst(make_user):
    return make_user("alicia_analyst", Role.ANALYST, NATIONAL)


@pytest.fixture
def policymaker_cusco(make_user):
    return make_user("pedro_cusco", Role.POLICY_MAKER, "08")


@pytest.fixture
def policymaker_lima(make_user):
    return make_user("luisa_lima", Role.POLICY_MAKER, "15")


@pytest.fixture
def staff_cusco(make_user):
    return make_user("sofia_staff", Role.SCHOOL_STAFF, "080101")


@pytest.fixture
def staff_lima(make_user):
    return make_user("samuel_staff", Role.SCHOOL_STAFF, "150101")


@pytest.fixture
def role_users(admin_user, analyst, policymaker_cusco, staff_cusco):
    return {"admin": admin_user, "analyst": analyst, "policymaker": policymaker_cusco, "staff": staff_cusco}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as():
    def client_for(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness protects real passwords; tests only need a hasher that checks.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic` first; tests serve static files straight from the apps.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Rate-limit counters and other cached values never leak between tests (or into a running platform)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()
