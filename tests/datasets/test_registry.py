"""The area registry, loaded from ../shared/data/peru by the session fixture, as `make run` loads data/peru."""

import csv
import gzip
from collections import Counter

import pytest
from django.core.management import call_command

from datasets.models import Department, District, PopulatedPlace, Province, ReferenceImport
from datasets.services.registry import haversine_km
from tests.conftest import REPO, shared_peru_dir

pytestmark = pytest.mark.django_db


def shared_rows(relative):
    with open(shared_peru_dir() / relative, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_area_of_the_master_tables_is_loaded():
    assert Department.objects.count() == 25
    assert Province.objects.count() == 196
    master = shared_rows("districts/ubigeo_distrito.csv")
    assert District.objects.count() == len(master) == 1893
    assert District.objects.get(ubigeo="080101").name == "CUSCO"


def test_populated_places_and_their_district_aggregates():
    places = shared_rows("districts/ubigeo_ccpp.csv")
    assert PopulatedPlace.objects.count() == len(places) == 94922
    per_district = Counter(p["inei_distrito"] for p in places)
    rural = Counter(p["inei_distrito"] for p in places if p["tipo"] == "Rural")
    cusco = District.objects.get(ubigeo="080101")
    assert cusco.places_count == per_district["080101"]
    assert cusco.places_rural_share == pytest.approx(100 * rural["080101"] / per_district["080101"], abs=1e-3)
    place = PopulatedPlace.objects.filter(district=cusco).order_by("-distance_to_capital_km").first()
    expected = float(haversine_km(place.latitude, place.longitude, cusco.latitude, cusco.longitude))
    assert place.distance_to_capital_km == pytest.approx(expected, abs=1e-2)
    assert cusco.places_max_distance_km == pytest.approx(place.distance_to_capital_km, abs=1e-2)


def test_boundaries_are_stored_as_geojson():
    lima = District.objects.get(ubigeo="150101")
    assert lima.boundary["type"] in {"Polygon", "MultiPolygon"} and lima.boundary_source == "own"
    assert District.objects.filter(boundary__isnull=False).count() == 1834 - 8  # 8 polygons are empty in the source


def test_every_mismatch_is_reported():
    report = ReferenceImport.objects.first()
    found = {(item["kind"], item["code"]) for item in report.report}
    assert ("district_without_polygon", "080915") in found  # KUMPIRUSHIATO, created after 2007
    assert ("polygon_empty_in_source", "150137") in found
    assert ("district_code_repaired", "180107") in found  # SAN ANTONIO, Moquegua: INEI code was NA
    assert ("district_without_indicators", "080915") in found
    assert any(kind == "district_na_markers" for kind, _ in found)
    assert report.counts["districts"] == 1893


def test_reference_datasets_report_dropped_codes():
    from datasets.models import Upload

    ece = Upload.objects.get(dataset__slug="ece-resultados-distritales", version__isnull=False)
    dropped = {e["value"] for e in ece.errors if e["code"] == "unknown_ubigeo"}
    assert dropped == {"130112", "160405"}  # codes the master table lacks (ece/SOURCE.md)
    assert ece.drop_invalid_rows and ece.version.dropped_rows == 2


def test_loading_again_changes_nothing(capsys):
    before = (District.objects.count(), PopulatedPlace.objects.count(), ReferenceImport.objects.count())
    call_command("load_peru", source=shared_peru_dir())
    assert "already loaded" in capsys.readouterr().out
    assert (District.objects.count(), PopulatedPlace.objects.count(), ReferenceImport.objects.count()) == before
    call_command("load_peru", source=shared_peru_dir(), force=True)
    assert (District.objects.count(), PopulatedPlace.objects.count()) == before[:2]


def test_the_shipped_copy_holds_the_same_data():
    """data/peru (what make run loads) matches ../shared for everything the platform reads."""
    with gzip.open(REPO / "data/peru/districts/ubigeo_ccpp.csv.gz", "rt", encoding="utf-8") as handle:
        shipped = {row["inei_ccpp"]: row for row in csv.DictReader(handle)}
    shared = shared_rows("districts/ubigeo_ccpp.csv")
    assert len(shipped) == len(shared)
    for row in shared[::997]:
        copy = shipped[row["inei_ccpp"]]
        assert copy["tipo"] == row["tipo"] and copy["inei_distrito"] == row["inei_distrito"]
        assert abs(float(copy["latitude"]) - float(row["latitude"])) < 1e-5
    for relative in [
        "districts/ubigeo_distrito.csv",
        "ece/ece_district.csv",
        "services/indicadores-distrito.csv",
        "dropout_language/dropout_language.csv",
        "boundaries/peru_distrital_simple.geojson",
    ]:
        assert (
            gzip.decompress((REPO / "data/peru" / f"{relative}.gz").read_bytes())
            == (shared_peru_dir() / relative).read_bytes()
        )


def test_loading_again_after_an_analyst_uploaded_a_newer_version(capsys, analyst):
    """`make run` twice stays safe once analysts have added versions of a shipped dataset: the shipped version is
    kept (the default feature table reads it) and nothing is registered again."""
    from django.core.files.base import ContentFile

    from datasets.models import Dataset, FeatureSnapshot, Upload
    from datasets.services.uploads import dataset_ingest, upload_register
    from jobs.services import job_run

    dataset = Dataset.objects.get(slug="censo-2017-servicios")
    shipped = dataset.versions.get(number=1)
    upload = upload_register(
        user=analyst,
        dataset=dataset,
        file=ContentFile(b"ubigeo,agua\n080101,91.5\n", name="agua.csv"),
        name="agua.csv",
        enqueue=False,
    )
    job = job_run(job_id=upload.job_id, handler=lambda job, progress: dataset_ingest(job=job, progress=progress))
    assert job.status == "succeeded", job.failure_reason
    assert dataset.versions.count() == 2
    uploads, snapshots = Upload.objects.count(), FeatureSnapshot.objects.count()

    call_command("load_peru", source=shared_peru_dir())

    assert dataset.versions.count() == 2 and Upload.objects.count() == uploads
    assert FeatureSnapshot.objects.count() == snapshots
    assert dataset.versions.get(number=1) == shipped
