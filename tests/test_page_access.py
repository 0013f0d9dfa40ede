"""Every page, opened anonymously and by each role, including same-role users of another region.

Like the API table, this one must name every page route: a new page fails `test_every_page_is_in_the_table`
until its access rules are written here.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from datasets.models import DatasetVersion, FeatureSnapshot
from recommendations.models import Intervention
from tests.access import CALLERS, analyst_upload, experiment, only, recommendation, staff_feedback, world

PAGE_NAMESPACES = {"core", "accounts", "datasets", "predictions", "recommendations", "feedback"}
EVERYONE = {c: 200 for c in CALLERS} | {"anonymous": 302}
ADMIN = only({"admin": 200, "anonymous": 302}, 403)
ANALYSTS = only({"admin": 200, "analyst": 200, "analyst_lima": 200, "anonymous": 302}, 403)
CUSCO = only({"admin": 200, "analyst": 200, "policymaker": 200, "staff": 200, "anonymous": 302}, 404)
NOT_STAFF = {c: 200 for c in CALLERS} | {"anonymous": 302, "staff": 403, "staff_lima": 403}


PAGES = {
    "core:home": lambda ctx: ("/", EVERYONE),
    "accounts:login": lambda ctx: ("/accounts/login/", {c: 302 for c in CALLERS} | {"anonymous": 200}),
    "accounts:logout": lambda ctx: ("/accounts/logout/", {c: 405 for c in CALLERS}),  # POST only
    "accounts:user_list": lambda ctx: ("/accounts/users/", ADMIN),
    "accounts:user_new": lambda ctx: ("/accounts/users/new/", ADMIN),
    "accounts:user_edit": lambda ctx: (f"/accounts/users/{ctx['staff'].pk}/", ADMIN),
    "accounts:audit_list": lambda ctx: ("/accounts/audit/", ADMIN),
    "accounts:deletion_requests": lambda ctx: ("/accounts/deletion-requests/", ADMIN),
    "accounts:me": lambda ctx: ("/accounts/me/", EVERYONE),
    "datasets:area_index": lambda ctx: ("/areas/", EVERYONE),
    "datasets:area_department": lambda ctx: ("/areas/departments/08/", CUSCO),
    "datasets:area_province": lambda ctx: ("/areas/provinces/0801/", CUSCO),
    "datasets:district_detail": lambda ctx: ("/areas/districts/080101/", CUSCO),
    "datasets:dataset_list": lambda ctx: ("/datasets/", ANALYSTS),
    "datasets:dataset_new": lambda ctx: ("/datasets/new/", ANALYSTS),
    "datasets:dataset_detail": lambda ctx: ("/datasets/censo-2017-servicios/", ANALYSTS),
    "datasets:upload_detail": lambda ctx: (
        f"/datasets/uploads/{analyst_upload(ctx).pk}/",
        {**ANALYSTS, "analyst_lima": 404},
    ),
    "datasets:version_detail": lambda ctx: (f"/datasets/versions/{DatasetVersion.objects.first().pk}/", ANALYSTS),
    "datasets:snapshot_list": lambda ctx: ("/datasets/feature-tables/", ANALYSTS),
    "datasets:snapshot_detail": lambda ctx: (
        f"/datasets/feature-tables/{FeatureSnapshot.objects.first().pk}/",
        EVERYONE,
    ),
    "predictions:model_list": lambda ctx: ("/models/", (world(ctx), ANALYSTS)[1]),
    "predictions:model_detail": lambda ctx: (f"/models/{world(ctx)['model'].pk}/", ANALYSTS),
    "predictions:run_list": lambda ctx: ("/predictions/", EVERYONE),
    "predictions:run_detail": lambda ctx: (f"/predictions/{world(ctx)['run'].pk}/", EVERYONE),
    "predictions:run_compare": lambda ctx: (
        f"/predictions/{world(ctx)['run'].pk}/compare/?other={world(ctx)['run'].pk}",
        EVERYONE,
    ),
    "predictions:map": lambda ctx: ("/map/", (world(ctx), EVERYONE)[1]),
    "recommendations:plan_list": lambda ctx: ("/plans/", NOT_STAFF),
    "recommendations:plan_detail": lambda ctx: (
        f"/plans/{world(ctx)['cusco_plan'].pk}/",
        {**CUSCO, "staff": 403, "staff_lima": 403},  # staff have no plan pages
    ),
    "recommendations:review_queue": lambda ctx: ("/recommendations/", EVERYONE),
    "recommendations:recommendation_detail": lambda ctx: (f"/recommendations/{recommendation(ctx).pk}/", CUSCO),
    "recommendations:intervention_list": lambda ctx: ("/interventions/", EVERYONE),
    "recommendations:intervention_new": lambda ctx: ("/interventions/new/", ADMIN),
    "recommendations:intervention_edit": lambda ctx: (f"/interventions/{Intervention.objects.first().pk}/", ADMIN),
    "feedback:home": lambda ctx: ("/feedback/", EVERYONE),
    "feedback:new": lambda ctx: (
        f"/feedback/new/?prediction={world(ctx)['run'].predictions.get(ubigeo='080101').pk}",
        CUSCO,
    ),
    "feedback:triage": lambda ctx: (  # a GET only goes back to the list; the decision is a POST
        f"/feedback/{staff_feedback(ctx).pk}/triage/",
        only({"admin": 302, "analyst": 302, "analyst_lima": 404, "anonymous": 302}, 403),
    ),
    "feedback:labels": lambda ctx: ("/feedback/labels/", ANALYSTS),
    "feedback:experiment_list": lambda ctx: (
        "/experiments/",
        only({"staff": 403, "staff_lima": 403, "anonymous": 302}, 200),
    ),
    "feedback:experiment_detail": lambda ctx: (
        f"/experiments/{experiment(ctx).pk}/",
        only({"staff": 404, "staff_lima": 404, "anonymous": 302}, 200),
    ),
}


def page_names():
    names = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace in PAGE_NAMESPACES:
                names.add(f"{namespace}:{pattern.name}")

    walk(get_resolver().url_patterns, None)
    return names - {"core:healthz", "core:readyz"}


def test_every_page_is_in_the_table():
    assert page_names() - set(PAGES) == set()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_access_by_caller(name, ctx, client):
    for caller in CALLERS:
        url, expected = PAGES[name](ctx)
        client.logout()
        if caller != "anonymous":
            client.force_login(ctx[caller])
        response = client.get(url)
        assert response.status_code == expected[caller], f"{caller} GET {url}: {response.status_code}"
