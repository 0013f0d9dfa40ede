"""Feedback from schools: submission rules, triage into label sets, personal data and retention."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, DeletionRequest, Role, User
from feedback.models import Feedback, Label, LabelSet
from feedback.services.retention import feedback_text_expire
from tests.scenario import register_model, scored_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(analyst):
    return scored_run(register_model(created_by=analyst), analyst)


def body(run, ubigeo="080101", **extra):
    prediction = run.predictions.get(ubigeo=ubigeo)
    return {
        "ubigeo": ubigeo,
        "subject": "prediction",
        "prediction": prediction.pk,
        "agrees": False,
        "observed_value": 55.0,
        "observed_source": "Evaluación regional 2025 (UGEL Cusco)",
        "comment": "En nuestra red la mitad no llega al nivel esperado.",
        **extra,
    }


def send(api_as, user, data):
    return api_as(user).post("/api/v1/feedback/", data, format="json")


def test_school_staff_send_feedback_once_a_day_per_item(api_as, staff_cusco, run):
    assert send(api_as, staff_cusco, body(run)).status_code == 201
    again = send(api_as, staff_cusco, body(run))
    assert again.status_code == 409 and "hoy" in again.json()["detail"]
    assert Feedback.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"ubigeo": "150101"}, 404),  # a district outside the author's region does not exist for them
        ({"observed_value": 150}, 400),
        ({"observed_source": ""}, 400),
        ({"comment": "x" * 2001}, 400),
        ({"subject": "nothing"}, 400),
    ],
)
def test_bad_feedback_is_refused(api_as, staff_cusco, run, change, status):
    data = body(run, ubigeo="150101") if "ubigeo" in change else body(run, **change)
    assert send(api_as, staff_cusco, data).status_code == status
    assert not Feedback.objects.exists()


def test_only_staff_and_policy_makers_send_feedback(api_as, analyst, policymaker_cusco, run):
    assert send(api_as, analyst, body(run)).status_code == 403
    assert send(api_as, policymaker_cusco, body(run)).status_code == 201


def test_feedback_is_rate_limited(api_as, staff_cusco, run, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"feedback": "2/hour"}}
    districts = [p.ubigeo for p in run.predictions.filter(ubigeo__startswith="0801").order_by("ubigeo")[:3]]
    staff_cusco.region = ",".join(districts)
    staff_cusco.save()
    codes = [send(api_as, staff_cusco, body(run, ubigeo=u)).status_code for u in districts]
    assert codes == [201, 201, 429]


def test_triage_accepts_once_and_the_author_sees_the_reason(api_as, staff_cusco, analyst, policymaker_cusco, run):
    feedback_id = send(api_as, staff_cusco, body(run)).json()["id"]
    url = f"/api/v1/feedback/{feedback_id}/triage/"
    assert api_as(policymaker_cusco).post(url, {"decision": "accept"}, format="json").status_code == 403
    assert api_as(analyst).post(url, {"decision": "reject"}, format="json").status_code == 400  # needs a reason
    asked = api_as(analyst).post(url, {"decision": "needs_info", "reason": "¿Qué instrumento usaron?"}, format="json")
    assert asked.status_code == 200
    mine = api_as(staff_cusco).get(f"/api/v1/feedback/{feedback_id}/").json()
    assert mine["status"] == "needs_info" and mine["triage_reason"] == "¿Qué instrumento usaron?"
    assert api_as(analyst).post(url, {"decision": "accept"}, format="json").status_code == 200
    second = api_as(analyst).post(url, {"decision": "accept"}, format="json")
    assert second.status_code == 409 and second.json()["status"] == "accepted"
    label = Label.objects.get()
    assert (label.ubigeo, label.value, label.label_set) == ("080101", 55.0, None)


def test_accepted_labels_become_a_numbered_label_set(api_as, staff_cusco, analyst, run):
    feedback_id = send(api_as, staff_cusco, body(run)).json()["id"]
    api_as(analyst).post(f"/api/v1/feedback/{feedback_id}/triage/", {"decision": "accept"}, format="json")
    published = api_as(analyst).post("/api/v1/label-sets/", {"note": "primer lote"}, format="json")
    assert published.status_code == 201 and published.json()["number"] == 1 and published.json()["labels"] == 1
    assert Label.objects.get().label_set == LabelSet.objects.get(number=1)
    empty = api_as(analyst).post("/api/v1/label-sets/", {}, format="json")
    assert empty.status_code == 400


def test_personal_data_export_and_anonymisation_keep_the_label(
    api_as, staff_cusco, analyst, admin_user, run, client, password
):
    from axes.models import AccessLog

    assert client.post("/accounts/login/", {"username": staff_cusco.username, "password": password}).status_code == 302
    assert AccessLog.objects.filter(username=staff_cusco.username).exists()
    feedback_id = send(api_as, staff_cusco, body(run)).json()["id"]
    api_as(analyst).post(f"/api/v1/feedback/{feedback_id}/triage/", {"decision": "accept"}, format="json")
    export = api_as(staff_cusco).get("/api/v1/me/data/").json()
    assert export["profile"]["username"] == staff_cusco.username
    assert export["feedback"][0]["comment"].startswith("En nuestra red")
    changed = api_as(admin_user).patch(
        f"/api/v1/users/{staff_cusco.pk}/", {"email": "sofia.quispe@ugel-cusco.gob.pe"}, format="json"
    )
    assert changed.status_code == 200
    old_name = staff_cusco.username
    assert api_as(staff_cusco).post("/api/v1/me/deletion/", {"reason": "cambio de trabajo"}).status_code == 202
    assert api_as(admin_user).post(f"/api/v1/users/{staff_cusco.pk}/anonymise/").status_code == 200
    trail = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert old_name not in trail and "sofia.quispe" not in trail and "cambio de trabajo" not in trail
    assert AuditEvent.objects.filter(action="user.update", target_id=str(staff_cusco.pk)).exists()  # the act stays
    assert not DeletionRequest.objects.exclude(reason="").exists()
    assert not AccessLog.objects.filter(username=old_name).exists()
    staff_cusco.refresh_from_db()
    assert staff_cusco.username == f"deleted-{staff_cusco.pk}" and not staff_cusco.email
    assert not staff_cusco.is_active and not staff_cusco.has_usable_password()
    feedback = Feedback.objects.get(pk=feedback_id)
    assert feedback.author is None and feedback.comment == "" and feedback.anonymised
    assert Label.objects.get().value == 55.0  # the anonymous label stays
    assert not User.objects.filter(username="sofia_staff").exists()


def test_free_text_expires_after_the_retention_period(api_as, staff_cusco, run, settings):
    settings.FEEDBACK_TEXT_RETENTION_DAYS = 30
    feedback_id = send(api_as, staff_cusco, body(run)).json()["id"]
    assert feedback_text_expire() == 0
    Feedback.objects.filter(pk=feedback_id).update(created_at=timezone.now() - timedelta(days=31))
    assert feedback_text_expire() == 1
    feedback = Feedback.objects.get(pk=feedback_id)
    assert (feedback.comment, feedback.observed_source, feedback.observed_value) == ("", "", 55.0)


def test_staff_page_lists_their_district_and_the_form_works(client, staff_cusco, run):
    client.force_login(staff_cusco)
    page = client.get("/feedback/").content.decode()
    prediction = run.predictions.get(ubigeo="080101")
    assert f"?prediction={prediction.pk}" in page
    response = client.post(
        f"/feedback/new/?prediction={prediction.pk}",
        {
            "prediction": prediction.pk,
            "agrees": "false",
            "observed_value": "48",
            "observed_source": "acta UGEL",
            "comment": "ok",
        },
    )
    assert response.status_code == 302
    assert Feedback.objects.get().observed_value == 48
    assert client.get(f"/feedback/new/?prediction={run.predictions.get(ubigeo='150101').pk}").status_code == 404


def test_role_check_for_feedback_pages(client, make_user, run):
    outsider = make_user("pm_lima2", Role.POLICY_MAKER, "15")
    client.force_login(outsider)
    prediction = run.predictions.get(ubigeo="080101")
    assert client.get(f"/feedback/new/?prediction={prediction.pk}").status_code == 404
