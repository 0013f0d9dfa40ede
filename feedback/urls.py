from django.urls import path

from feedback import views

app_name = "feedback"

urlpatterns = [
    path("feedback/", views.feedback_home, name="home"),
    path("feedback/new/", views.feedback_new, name="new"),
    path("feedback/<int:pk>/triage/", views.feedback_triage_page, name="triage"),
    path("feedback/labels/", views.labels, name="labels"),
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("experiments/<int:pk>/", views.experiment_detail, name="experiment_detail"),
]
