"""Every API route, called anonymously and by each role, including same-role users of another region.

The table below must name every route of the API: a new endpoint fails `test_every_api_route_is_in_the_table`
until its access rules are written here.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import AuditEvent, Role
from jobs.models import Job

CALLERS = ["anonymous", "admin", "analyst", "analyst_lima", "policymaker", "policymaker_lima", "staff", "staff_lima"]


def only(allowed: dict, default: int) -> dict:
    return {caller: allowed.get(caller, default) for caller in CALLERS}


def everyone(status: int) -> dict:
    return {"anonymous": 401, **{caller: status for caller in CALLERS if caller != "anonymous"}}


def analyst_job(ctx):
    return Job.objects.create(kind=Job.Kind.DATASET_INGEST, created_by=ctx["analyst"], status=Job.Status.QUEUED)


def failed_job(ctx):
    return Job.objects.create(kind=Job.Kind.DATASET_INGEST, created_by=ctx["analyst"], status=Job.Status.FAILED)


ADMIN_ONLY = only({"admin": 200, "anonymous": 401}, 403)

ROUTES = {
    "api-root": lambda ctx: ("get", "/api/v1/", None, everyone(200)),
    "auth-token": lambda ctx: ("post", "/api/v1/auth/token/", {}, {c: 400 for c in CALLERS}),
    "me": lambda ctx: ("get", "/api/v1/me/", None, everyone(200)),
    "user-list": lambda ctx: ("get", "/api/v1/users/", None, ADMIN_ONLY),
    "user-detail": lambda ctx: ("get", f"/api/v1/users/{ctx['staff'].pk}/", None, ADMIN_ONLY),
    "user-audit": lambda ctx: ("get", f"/api/v1/users/{ctx['staff'].pk}/audit/", None, ADMIN_ONLY),
    "user-deactivate": lambda ctx: (
        "post",
        f"/api/v1/users/{ctx['make_user']('victim', Role.SCHOOL_STAFF, '080101').pk}/deactivate/",
        {},
        ADMIN_ONLY,
    ),
    "user-password": lambda ctx: (
        "post",
        f"/api/v1/users/{ctx['staff'].pk}/password/",
        {},
        only({"admin": 400, "anonymous": 401}, 403),
    ),
    "audit-list": lambda ctx: ("get", "/api/v1/audit/", None, ADMIN_ONLY),
    "audit-detail": lambda ctx: (
        "get",
        f"/api/v1/audit/{AuditEvent.objects.create(action='x', target_type='t', target_id='1').pk}/",
        None,
        ADMIN_ONLY,
    ),
    "job-list": lambda ctx: ("get", "/api/v1/jobs/", None, everyone(200)),
    "job-detail": lambda ctx: (
        "get",
        f"/api/v1/jobs/{analyst_job(ctx).pk}/",
        None,
        only({"admin": 200, "analyst": 200, "anonymous": 401}, 404),
    ),
    "job-cancel": lambda ctx: (
        "post",
        f"/api/v1/jobs/{analyst_job(ctx).pk}/cancel/",
        {},
        only({"admin": 200, "analyst": 200, "anonymous": 401}, 404),
    ),
    "job-retry": lambda ctx: (
        "post",
        f"/api/v1/jobs/{failed_job(ctx).pk}/retry/",
        {},
        only({"admin": 202, "analyst": 202, "anonymous": 401}, 404),
    ),
}


def api_route_names():
    names = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "api":
                names.add(pattern.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_api_route_is_in_the_table():
    assert api_route_names() - set(ROUTES) == set()


@pytest.fixture
def ctx(make_user):
    users = {
        "admin": make_user("adm", Role.ADMIN, "PE"),
        "analyst": make_user("ana", Role.ANALYST, "PE"),
        "analyst_lima": make_user("ana_lima", Role.ANALYST, "15"),
        "policymaker": make_user("pol", Role.POLICY_MAKER, "08"),
        "policymaker_lima": make_user("pol_lima", Role.POLICY_MAKER, "15"),
        "staff": make_user("sta", Role.SCHOOL_STAFF, "080101"),
        "staff_lima": make_user("sta_lima", Role.SCHOOL_STAFF, "150101"),
    }
    return {**users, "make_user": make_user}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_access_by_caller(name, ctx, api_as, django_capture_on_commit_callbacks):
    for caller in CALLERS:
        method, url, data, expected = ROUTES[name](ctx)
        client = api_as(None if caller == "anonymous" else ctx[caller])
        response = (
            getattr(client, method)(url, data, format="json") if data is not None else getattr(client, method)(url)
        )
        assert response.status_code == expected[caller], f"{caller} {method.upper()} {url}: {response.status_code}"
