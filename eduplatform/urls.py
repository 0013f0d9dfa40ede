from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from core.metrics import metrics_view
from datasets import api as datasets_api
from feedback import api as feedback_api
from jobs import api as jobs_api
from predictions import api as predictions_api
from recommendations import api as recommendations_api

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
router.register("models", predictions_api.ModelVersionViewSet, basename="model")
router.register("predictions/runs", predictions_api.RunViewSet, basename="run")
router.register("interventions", recommendations_api.InterventionViewSet, basename="intervention")
router.register("plans", recommendations_api.PlanViewSet, basename="plan")
router.register("recommendations", recommendations_api.RecommendationViewSet, basename="recommendation")
router.register("feedback", feedback_api.FeedbackViewSet, basename="feedback")
router.register("label-sets", feedback_api.LabelSetViewSet, basename="labelset")
router.register("experiments", feedback_api.ExperimentViewSet, basename="experiment")

api_v1 = [
    path("auth/token/", accounts_api.TokenView.as_view(), name="auth-token"),
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("me/data/", accounts_api.MyDataView.as_view(), name="me-data"),
    path("me/deletion/", accounts_api.DeletionRequestView.as_view(), name="me-deletion"),
    path("models/retrain/", feedback_api.RetrainView.as_view(), name="model-retrain"),
    path(
        "predictions/runs/<int:run_pk>/predictions/",
        predictions_api.PredictionViewSet.as_view({"get": "list"}),
        name="run-predictions",
    ),
    path("", include(router.urls)),
]

urlpatterns = [
    path("", include("core.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("datasets.urls")),
    path("", include("predictions.urls")),
    path("", include("recommendations.urls")),
    path("", include("feedback.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("django-admin/", admin.site.urls),
    path("metrics", metrics_view, name="prometheus-django-metrics"),
]
