from django.urls import path

from predictions import views

app_name = "predictions"

urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
    path("predictions/", views.run_list, name="run_list"),
    path("predictions/<int:pk>/", views.run_detail, name="run_detail"),
    path("predictions/<int:pk>/compare/", views.run_compare_page, name="run_compare"),
    path("map/", views.disparity_map, name="map"),
]
