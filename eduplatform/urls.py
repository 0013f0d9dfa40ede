from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from datasets import api as datasets_api
from jobs import api as jobs_api

router = DefaultRouter()
router.include_format_suffixes = False
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("audit", accounts_api.AuditEventViewSet, basename="audit")
router.register("jobs", jobs_api.JobViewSet, basename="job")
router.register("areas/departments", datasets_api.DepartmentViewSet, basename="department")
router.register("areas/provinces", datasets_api.ProvinceViewSet, basename="province")
router.register("areas/districts", datasets_api.DistrictViewSet, basename="district")
router.register("datasets", datasets_api.DatasetViewSet, basename="dataset")
router.register("versions", datasets_api.VersionViewSet, basename="version")
router.register("uploads", datasets_api.UploadViewSet, basename="upload")
router.register("snapshots", datasets_api.SnapshotViewSet, basename="snapshot")

api_v1 = [
    path("auth/token/", accounts_api.TokenView.as_view(), name="auth-token"),
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("", include("core.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("datasets.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]
