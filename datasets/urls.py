from django.urls import path

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("areas/", views.area_index, name="area_index"),
    path("areas/departments/<str:code>/", views.area_department, name="area_department"),
    path("areas/provinces/<str:code>/", views.area_province, name="area_province"),
    path("areas/districts/<str:ubigeo>/", views.district_detail, name="district_detail"),
    path("datasets/", views.dataset_list, name="dataset_list"),
    path("datasets/new/", views.dataset_new, name="dataset_new"),
    path("datasets/uploads/<int:pk>/", views.upload_detail, name="upload_detail"),
    path("datasets/versions/<int:pk>/", views.version_detail, name="version_detail"),
    path("datasets/feature-tables/", views.snapshot_list, name="snapshot_list"),
    path("datasets/feature-tables/<int:pk>/", views.snapshot_detail, name="snapshot_detail"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="dataset_detail"),
]
