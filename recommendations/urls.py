from django.urls import path

from recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("plans/", views.plan_list, name="plan_list"),
    path("plans/<int:pk>/", views.plan_detail, name="plan_detail"),
    path("recommendations/", views.review_queue, name="review_queue"),
    path("recommendations/<int:pk>/", views.recommendation_detail, name="recommendation_detail"),
    path("interventions/", views.intervention_list, name="intervention_list"),
    path("interventions/new/", views.intervention_edit, name="intervention_new"),
    path("interventions/<int:pk>/", views.intervention_edit, name="intervention_edit"),
]
