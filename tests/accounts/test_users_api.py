import pytest

from accounts.models import AuditEvent, Role, User
from datasets.models import Department

USERS = "/api/v1/users/"


@pytest.fixture
def registry(db):
    """The session loads Peru's registry; region codes are checked against it."""
    assert Department.objects.filter(code__in=["08", "15"]).count() == 2


def test_administrator_creates_a_user_with_role_and_region(api_as, admin_user, registry):
    response = api_as(admin_user).post(
        USERS,
        {"username": "nuevo", "password": "un-secreto-largo-42", "role": "policymaker", "region": "08"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    user = User.objects.get(username="nuevo")
    assert (user.role, user.region) == (Role.POLICY_MAKER, "08")
    assert user.check_password("un-secreto-largo-42")
    event = AuditEvent.objects.get(action="user.create", target_id=str(user.pk))
    assert event.actor_username == "ana_admin"


def test_unknown_region_code_is_refused_with_the_code(api_as, admin_user, registry):
    response = api_as(admin_user).post(USERS, {"username": "x1", "role": "analyst", "region": "99"}, format="json")
    assert response.status_code == 400
    assert "99" in response.json()["detail"]
    assert not User.objects.filter(username="x1").exists()


def test_malformed_region_is_refused(api_as, admin_user, registry):
    response = api_as(admin_user).post(USERS, {"username": "x2", "role": "analyst", "region": "08,15"}, format="json")
    assert response.status_code == 400


def test_weak_password_is_refused(api_as, admin_user):
    response = api_as(admin_user).post(USERS, {"username": "x3", "role": "analyst", "password": "123"}, format="json")
    assert response.status_code == 400
    assert not User.objects.filter(username="x3").exists()


def test_role_change_is_audited_with_who_and_when(api_as, admin_user, staff_cusco, registry):
    response = api_as(admin_user).patch(
        f"{USERS}{staff_cusco.pk}/",
        {"role": "policymaker", "region": "08", "reason": "nueva directora"},
        format="json",
    )
    assert response.status_code == 200
    history = api_as(admin_user).get(f"{USERS}{staff_cusco.pk}/audit/").json()
    assert history[0]["changes"]["role"] == ["school_staff", "policymaker"]
    assert history[0]["changes"]["region"] == ["080101", "08"]
    assert history[0]["actor_username"] == "ana_admin"
    assert history[0]["reason"] == "nueva directora"
    assert history[0]["created_at"]


def test_deactivate_endpoint(api_as, admin_user, analyst):
    response = api_as(admin_user).post(f"{USERS}{analyst.pk}/deactivate/", {"reason": "left"}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert AuditEvent.objects.filter(action="user.deactivate", target_id=str(analyst.pk)).exists()


def test_administrator_cannot_demote_or_deactivate_themselves(api_as, admin_user):
    response = api_as(admin_user).patch(f"{USERS}{admin_user.pk}/", {"role": "analyst"}, format="json")
    assert response.status_code == 400
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


@pytest.mark.parametrize("role", ["analyst", "policymaker", "staff"])
def test_non_administrators_get_403_on_user_management(api_as, role_users, role):
    client = api_as(role_users[role])
    assert client.get(USERS).status_code == 403
    assert client.post(USERS, {"username": "z", "role": "admin"}, format="json").status_code == 403
    target = role_users["staff"]
    assert client.patch(f"{USERS}{target.pk}/", {"role": "admin"}, format="json").status_code == 403
    assert client.post(f"{USERS}{target.pk}/deactivate/").status_code == 403
    target.refresh_from_db()
    assert target.role == Role.SCHOOL_STAFF and target.is_active


def test_anonymous_gets_401_on_user_management(api, admin_user):
    assert api.get(USERS).status_code == 401


def test_audit_export_is_for_administrators(client, admin_user, analyst, password):
    client.force_login(analyst)
    assert client.get("/accounts/audit/?format=csv").status_code == 403
    client.force_login(admin_user)
    response = client.get("/accounts/audit/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
