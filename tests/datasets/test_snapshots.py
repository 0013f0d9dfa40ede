import pytest

from datasets.models import DatasetVersion, FeatureSnapshot
from jobs.models import Job

pytestmark = pytest.mark.django_db


def test_the_default_feature_table_has_every_district_and_its_lineage():
    snapshot = FeatureSnapshot.objects.get(name="Línea base nacional")
    frame = snapshot.to_frame()
    assert len(frame) == 1893
    assert {"agua", "internet", "ece18_4p_lec_sat", "indigenous_language_pct", "places_rural_share"} <= set(
        frame.columns
    )
    lineage = {item["column"]: item for item in snapshot.lineage}
    assert lineage["agua"]["dataset"] == "censo-2017-servicios"
    assert frame.loc["080101", "agua"] == pytest.approx(
        DatasetVersion.objects.get(pk=lineage["agua"]["version"]).rows.get(ubigeo="080101").values["agua"]
    )


def test_analyst_builds_a_snapshot_through_the_api(api_as, analyst, django_capture_on_commit_callbacks):
    version = DatasetVersion.objects.get(dataset__slug="censo-2017-servicios")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(analyst).post(
            "/api/v1/snapshots/",
            {"name": "Servicios", "columns": [{"version": version.pk, "column": "internet", "alias": "internet_2017"}]},
            format="json",
        )
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == Job.Status.SUCCEEDED, job.failure_reason
    snapshot = FeatureSnapshot.objects.get(pk=job.result["snapshot"])
    assert snapshot.columns == ["internet_2017"]
    assert snapshot.lineage[0]["version"] == version.pk


@pytest.mark.parametrize(
    ("column", "extra", "fragment"),
    [("no_such_column", {}, "no está"), ("internet", {"aggregate": "median"}, "median")],
)
def test_bad_snapshot_requests_are_refused(api_as, analyst, column, extra, fragment):
    version = DatasetVersion.objects.get(dataset__slug="censo-2017-servicios")
    response = api_as(analyst).post(
        "/api/v1/snapshots/",
        {"name": "x", "columns": [{"version": version.pk, "column": column, **extra}]},
        format="json",
    )
    assert response.status_code == 400
    assert fragment in str(response.json())


def test_duplicate_output_names_are_refused(api_as, analyst):
    version = DatasetVersion.objects.get(dataset__slug="censo-2017-servicios")
    columns = [
        {"version": version.pk, "column": "agua", "alias": "x"},
        {"version": version.pk, "column": "internet", "alias": "x"},
    ]
    response = api_as(analyst).post("/api/v1/snapshots/", {"name": "x", "columns": columns}, format="json")
    assert response.status_code == 400 and "alias" in response.json()["detail"]


def test_snapshot_rows_follow_the_region(api_as, staff_cusco):
    snapshot = FeatureSnapshot.objects.get(name="Línea base nacional")
    rows = api_as(staff_cusco).get(f"/api/v1/snapshots/{snapshot.pk}/data/").json()
    assert [row["ubigeo"] for row in rows] == ["080101"]
