import pytest

from accounts.models import Role, User


def menu_keys(response):
    return [item["key"] for item in response.context["menu"]]


def test_login_page_is_spanish_by_default(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'lang="es' in response.content.decode()
    assert "Iniciar sesión" in response.content.decode()


def test_login_page_in_english_on_request(client, db):
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert "Sign in" in client.get("/accounts/login/").content.decode()


@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        ("admin", {"home", "areas", "datasets", "models", "plans", "review", "users", "audit"}, set()),
        ("analyst", {"home", "areas", "datasets", "feature_tables", "models", "plans"}, {"users", "audit", "review"}),
        ("policymaker", {"home", "areas", "map", "plans", "review"}, {"users", "audit", "datasets", "models"}),
        ("staff", {"home", "areas", "map", "feedback"}, {"users", "audit", "datasets", "plans", "review"}),
    ],
)
def test_each_role_sees_its_menu(client, role_users, password, role, present, absent):
    client.force_login(role_users[role])
    keys = set(menu_keys(client.get("/")))
    assert present <= keys
    assert not (absent & keys)


def test_wrong_password_shows_one_generic_message(client, analyst):
    known = client.post("/accounts/login/", {"username": "alicia_analyst", "password": "wrong-password"})
    unknown = client.post("/accounts/login/", {"username": "nadie", "password": "wrong-password"})
    assert known.status_code == unknown.status_code == 200
    assert known.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()


def test_repeated_failures_show_the_lockout_page(client, analyst, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/accounts/login/", {"username": "alicia_analyst", "password": "wrong-password"})
    assert response.status_code == 429
    response = client.post("/accounts/login/", {"username": "alicia_analyst", "password": password})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", ["/accounts/users/", "/accounts/users/new/", "/accounts/audit/"])
def test_user_management_pages_are_for_administrators(client, role_users, password, url):
    for role, user in role_users.items():
        client.force_login(user)
        assert client.get(url).status_code == (200 if role == "admin" else 403), role
    client.logout()
    assert client.get(url).status_code == 302


def test_administrator_creates_and_edits_a_user_on_the_page(client, admin_user, password):
    client.force_login(admin_user)
    response = client.post(
        "/accounts/users/new/", {"username": "maria", "role": Role.ANALYST, "region": "PE", "password": ""}
    )
    assert response.status_code == 302
    maria = User.objects.get(username="maria")
    response = client.post(
        f"/accounts/users/{maria.pk}/",
        {"role": Role.POLICY_MAKER, "region": "15", "is_active": "", "reason": "traslado"},
    )
    assert response.status_code == 302
    maria.refresh_from_db()
    assert (maria.role, maria.region, maria.is_active) == (Role.POLICY_MAKER, "15", False)
    page = client.get(f"/accounts/users/{maria.pk}/").content.decode()
    assert "traslado" in page and "ana_admin" in page


def test_page_form_reports_a_bad_region(client, admin_user, password):
    client.force_login(admin_user)
    response = client.post("/accounts/users/new/", {"username": "mario", "role": Role.ANALYST, "region": "8"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not User.objects.filter(username="mario").exists()


def test_a_user_with_no_region_is_told_so(client, make_user, password):
    make_user("sin_region", Role.POLICY_MAKER, "")
    client.force_login(User.objects.get(username="sin_region"))
    page = client.get("/").content.decode()
    assert "no tiene una región asignada" in page
