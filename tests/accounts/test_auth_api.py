import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import user_deactivate

TOKEN_URL = "/api/v1/auth/token/"


def token_for(client, username, password):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


@pytest.mark.django_db
def test_token_then_me_with_the_token(api, policymaker_cusco, password):
    response = token_for(api, "pedro_cusco", password)
    assert response.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    me = api.get("/api/v1/me/").json()
    assert me["username"] == "pedro_cusco"
    assert me["role"] == Role.POLICY_MAKER
    assert me["region"] == "08"
    assert me["region_level"] == "department"


@pytest.mark.django_db
def test_wrong_password_and_unknown_user_answer_alike(api, analyst):
    wrong = token_for(api, "alicia_analyst", "not-the-password")
    unknown = token_for(api, "nobody_here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()


@pytest.mark.django_db
def test_repeated_failures_lock_known_and_unknown_usernames_alike(api, analyst, password, settings):
    for username in ("alicia_analyst", "nobody_here"):
        answers = [token_for(api, username, "wrong-password").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
        assert answers[-1] == 429
        locked = token_for(api, username, password if username == "alicia_analyst" else "x")
        assert locked.status_code == 429
        assert "15" in locked.json()["detail"]


@pytest.mark.django_db
def test_the_lock_is_per_username(api, analyst, admin_user, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        token_for(api, "alicia_analyst", "wrong-password")
    assert token_for(api, "ana_admin", password).status_code == 200


@pytest.mark.django_db
def test_deactivated_users_token_is_refused_at_once(api, analyst, admin_user, password):
    key = token_for(api, "alicia_analyst", password).json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").status_code == 200
    user_deactivate(actor=admin_user, user=analyst)
    assert client.get("/api/v1/me/").status_code == 401
    assert not Token.objects.filter(user=analyst).exists()


@pytest.mark.django_db
def test_deactivation_ends_browser_sessions(analyst, admin_user, password):
    browser = Client()
    browser.force_login(analyst)
    assert browser.get("/").status_code == 200
    user_deactivate(actor=admin_user, user=analyst)
    response = browser.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_deactivated_user_cannot_get_a_new_token(api, analyst, admin_user, password):
    user_deactivate(actor=admin_user, user=analyst)
    assert token_for(api, "alicia_analyst", password).status_code == 400


def test_me_requires_authentication(api):
    assert api.get("/api/v1/me/").status_code == 401
