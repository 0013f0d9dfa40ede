"""Areas through the API and pages, filtered by each user's region."""

import csv

import pytest

from accounts.models import Role
from datasets.models import District
from tests.conftest import shared_peru_dir

pytestmark = pytest.mark.django_db


def codes(response, key):
    data = response.json()
    items = data["results"] if isinstance(data, dict) else data
    return {item[key] for item in items}


def test_policy_maker_sees_the_districts_of_their_department_only(api_as, policymaker_cusco, policymaker_lima):
    cusco = api_as(policymaker_cusco).get("/api/v1/areas/districts/?page_size=2000")
    assert codes(cusco, "ubigeo") == set(District.objects.filter(department="08").values_list("ubigeo", flat=True))
    assert api_as(policymaker_lima).get("/api/v1/areas/districts/080101/").status_code == 404
    assert codes(api_as(policymaker_cusco).get("/api/v1/areas/departments/"), "code") == {"08"}


def test_district_user_sees_their_district_and_the_areas_containing_it(api_as, staff_cusco):
    client = api_as(staff_cusco)
    assert codes(client.get("/api/v1/areas/districts/"), "ubigeo") == {"080101"}
    assert codes(client.get("/api/v1/areas/provinces/"), "code") == {"0801"}
    assert codes(client.get("/api/v1/areas/departments/"), "code") == {"08"}
    assert client.get("/api/v1/areas/districts/080102/").status_code == 404


def test_user_without_a_region_sees_nothing_regional(api_as, make_user):
    nobody = make_user("sin_region", Role.ANALYST, "")
    client = api_as(nobody)
    assert client.get("/api/v1/areas/districts/").json()["count"] == 0
    assert client.get("/api/v1/areas/departments/").json() == []
    assert client.get("/api/v1/areas/districts/geojson/").json()["features"] == []


def test_search_and_filters(api_as, analyst):
    client = api_as(analyst)
    assert codes(client.get("/api/v1/areas/districts/?search=wanchaq"), "ubigeo") == {"080108"}
    assert codes(client.get("/api/v1/areas/districts/?search=080108"), "ubigeo") == {"080108"}
    province = client.get("/api/v1/areas/districts/?province=0801&page_size=100").json()
    assert province["count"] == District.objects.filter(province="0801").count()


def test_district_detail_gives_indicators_with_their_source(api_as, analyst):
    detail = api_as(analyst).get("/api/v1/areas/districts/080101/").json()
    sections = {s["dataset"]: s for s in detail["indicators"]}
    services = {v["column"]: v["value"] for v in sections["censo-2017-servicios"]["values"]}
    with open(shared_peru_dir() / "services/indicadores-distrito.csv", encoding="utf-8") as handle:
        published = next(row for row in csv.DictReader(handle) if row["ubigeo"] == "080101")
    assert services["agua"] == pytest.approx(float(published["agua"]))
    assert "INEI" in sections["censo-2017-servicios"]["source"]
    assert sections["censo-2017-servicios"]["version"] == 1


def test_geojson_of_a_department(api_as, policymaker_cusco):
    collection = api_as(policymaker_cusco).get("/api/v1/areas/districts/geojson/?province=0801").json()
    assert collection["type"] == "FeatureCollection"
    assert {f["id"] for f in collection["features"]} == set(
        District.objects.filter(province="0801").values_list("ubigeo", flat=True)
    )


def test_district_csv_export(api_as, policymaker_cusco):
    response = api_as(policymaker_cusco).get("/api/v1/areas/districts/?format=csv")
    lines = response.content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) - 1 == District.objects.filter(department="08").count()


def test_area_pages_follow_the_region(client, staff_cusco, policymaker_lima):
    client.force_login(staff_cusco)
    page = client.get("/areas/districts/080101/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "CUSCO" in text and "Censo 2017" in text and "INEI" in text
    assert client.get("/areas/departments/08/").status_code == 200
    assert client.get("/areas/districts/080102/").status_code == 404
    assert client.get("/areas/departments/15/").status_code == 404
    client.force_login(policymaker_lima)
    assert client.get("/areas/districts/080101/").status_code == 404
    assert client.get("/areas/?q=miraflores").status_code == 200
    found = client.get("/areas/?q=miraflores").context["districts"]
    assert {d.department_id for d in found} == {"15"}


def test_department_page_draws_a_map(client, policymaker_cusco):
    client.force_login(policymaker_cusco)
    text = client.get("/areas/departments/08/").content.decode()
    assert text.count('data-ubigeo="08') >= 100
