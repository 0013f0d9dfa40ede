"""Every API route, called anonymously and by each role, including same-role users of another region.

The table below must name every route of the API: a new endpoint fails `test_every_api_route_is_in_the_table`
until its access rules are written here.
"""

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import AuditEvent, Role
from datasets.models import Dataset, DatasetVersion, FeatureSnapshot
from datasets.services.uploads import _store, _upload_record
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


def analyst_upload(ctx, status=Job.Status.FAILED):
    dataset = Dataset.objects.get(slug="censo-2017-servicios")
    name, sha, size = _store(ContentFile(f"ubigeo,agua\n080101,{ctx['n']}\n".encode(), name="x.csv"), ".csv")
    ctx["n"] += 1
    upload = _upload_record(
        user=ctx["analyst"],
        dataset=dataset,
        stored_name=name,
        original_name="x.csv",
        sha=sha,
        size=size,
        encoding="",
        delimiter="",
        drop_invalid_rows=False,
        note="",
        enqueue=False,
    )
    Job.objects.filter(pk=upload.job_id).update(status=status)
    return upload


ADMIN_ONLY = only({"admin": 200, "anonymous": 401}, 403)
ANALYSTS = only({"admin": 200, "analyst": 200, "analyst_lima": 200, "anonymous": 401}, 403)
ANALYSTS_CREATE = only({"admin": 202, "analyst": 202, "analyst_lima": 202, "anonymous": 401}, 403)
# Areas of Cusco: visible to the national users and to Cusco's policy maker and staff, not to Lima's.
CUSCO = only({"admin": 200, "analyst": 200, "policymaker": 200, "staff": 200, "anonymous": 401}, 404)
OWN_UPLOAD = only({"admin": 200, "analyst": 200, "anonymous": 401, "analyst_lima": 404}, 403)

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
    "department-list": lambda ctx: ("get", "/api/v1/areas/departments/", None, everyone(200)),
    "department-detail": lambda ctx: ("get", "/api/v1/areas/departments/08/", None, CUSCO),
    "province-list": lambda ctx: ("get", "/api/v1/areas/provinces/", None, everyone(200)),
    "province-detail": lambda ctx: ("get", "/api/v1/areas/provinces/0801/", None, CUSCO),
    "district-list": lambda ctx: ("get", "/api/v1/areas/districts/", None, everyone(200)),
    "district-detail": lambda ctx: ("get", "/api/v1/areas/districts/080101/", None, CUSCO),
    "district-geojson": lambda ctx: ("get", "/api/v1/areas/districts/geojson/", None, everyone(200)),
    "dataset-list": lambda ctx: [
        ("get", "/api/v1/datasets/", None, everyone(200)),
        (
            "post",
            "/api/v1/datasets/",
            {"name": f"Nuevo {ctx['n']}", "kind": "freeform"},
            only({"admin": 201, "analyst": 201, "analyst_lima": 201, "anonymous": 401}, 403),
        ),
    ],
    "dataset-detail": lambda ctx: ("get", f"/api/v1/datasets/{Dataset.objects.first().pk}/", None, everyone(200)),
    "dataset-versions": lambda ctx: [
        ("get", f"/api/v1/datasets/{Dataset.objects.first().pk}/versions/", None, everyone(200)),
        (
            "post",
            f"/api/v1/datasets/{Dataset.objects.first().pk}/versions/",
            {},
            only({"admin": 415, "analyst": 415, "analyst_lima": 415, "anonymous": 401}, 403),
        ),
    ],
    "version-list": lambda ctx: ("get", "/api/v1/versions/", None, everyone(200)),
    "version-detail": lambda ctx: (
        "get",
        f"/api/v1/versions/{DatasetVersion.objects.first().pk}/",
        None,
        everyone(200),
    ),
    "version-rows": lambda ctx: (
        "get",
        f"/api/v1/versions/{DatasetVersion.objects.first().pk}/rows/",
        None,
        everyone(200),
    ),
    "upload-list": lambda ctx: ("get", "/api/v1/uploads/", None, ANALYSTS),
    "upload-detail": lambda ctx: ("get", f"/api/v1/uploads/{analyst_upload(ctx).pk}/", None, OWN_UPLOAD),
    "upload-errors": lambda ctx: ("get", f"/api/v1/uploads/{analyst_upload(ctx).pk}/errors/", None, OWN_UPLOAD),
    "upload-again": lambda ctx: (
        "post",
        f"/api/v1/uploads/{analyst_upload(ctx).pk}/again/",
        {},
        {**OWN_UPLOAD, "admin": 202, "analyst": 202},
    ),
    "snapshot-list": lambda ctx: [
        ("get", "/api/v1/snapshots/", None, everyone(200)),
        ("post", "/api/v1/snapshots/", {"name": "t"}, ANALYSTS_CREATE),
    ],
    "snapshot-detail": lambda ctx: (
        "get",
        f"/api/v1/snapshots/{FeatureSnapshot.objects.first().pk}/",
        None,
        everyone(200),
    ),
    "snapshot-data": lambda ctx: (
        "get",
        f"/api/v1/snapshots/{FeatureSnapshot.objects.first().pk}/data/",
        None,
        everyone(200),
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
    return {**users, "make_user": make_user, "n": 0}


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_route_access_by_caller(name, ctx, api_as, django_capture_on_commit_callbacks):
    for caller in CALLERS:
        calls = ROUTES[name](ctx)
        for method, url, data, expected in calls if isinstance(calls, list) else [calls]:
            client = api_as(None if caller == "anonymous" else ctx[caller])
            send = getattr(client, method)
            response = send(url, data, format="json") if data is not None else send(url)
            assert response.status_code == expected[caller], f"{caller} {method.upper()} {url}: {response.status_code}"
            ctx["n"] += 1
