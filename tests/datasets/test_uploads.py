"""Uploads through the API: good files of every encoding and delimiter, and every bad input the issue lists.

Each bad file must get a clear error and leave every existing version and row as it was.
"""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from datasets.models import Dataset, DatasetRow, DatasetVersion, Upload
from datasets.services.uploads import dataset_create
from jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(analyst):
    return dataset_create(
        user=analyst,
        name="Conectividad escolar",
        kind=Dataset.Kind.DISTRICT_INDICATORS,
        percent_columns=["internet_pct"],
    )


@pytest.fixture
def upload(api_as, analyst, dataset, django_capture_on_commit_callbacks):
    """POST a file; run the job the response queued (as the worker would, after the response)."""

    def send(content, name="datos.csv", user=None, target=None, **fields):
        client = api_as(user or analyst)
        data = {"file": SimpleUploadedFile(name, content if isinstance(content, bytes) else content.encode()), **fields}
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/api/v1/datasets/{(target or dataset).pk}/versions/", data, format="multipart")
        return response

    return send


def finished(response) -> Upload:
    assert response.status_code == 202, response.json()
    return Upload.objects.select_related("job").get(pk=response.json()["id"])


def state():
    return DatasetVersion.objects.count(), DatasetRow.objects.count()


GOOD = "ubigeo,internet_pct,escuelas\n080101,35.5,120\n080102,12.25,40\n150101,61,300\n"


def test_good_csv_becomes_an_immutable_version_with_a_profile(upload, dataset, api_as, analyst):
    done = finished(upload(GOOD))
    assert done.job.status == Job.Status.SUCCEEDED, done.job.failure_reason
    version = done.version
    assert (version.number, version.row_count, version.dropped_rows) == (1, 3, 0)
    assert version.profile["internet_pct"]["min"] == 12.25
    assert version.profile["escuelas"]["max"] == 300
    assert sum(version.profile["escuelas"]["histogram"]["counts"]) == 3
    row = DatasetRow.objects.get(version=version, ubigeo="080102")
    assert row.values == {"ubigeo": "080102", "internet_pct": 12.25, "escuelas": 40.0}
    job = api_as(analyst).get(f"/api/v1/jobs/{done.job_id}/").json()
    assert job["status"] == "succeeded" and job["progress"] == 100 and job["result"]["rows"] == 3


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("\ufeff" + GOOD, "utf-8-sig", ","),
        (GOOD.replace(",", ";").replace("35.5", "35,5"), "utf-8", ";"),
        (GOOD.replace(",", "\t"), "utf-8", "\t"),
    ],
)
def test_encoding_and_delimiter_are_detected(upload, content, encoding, delimiter):
    done = finished(upload(content.encode("utf-8")))
    assert done.job.status == Job.Status.SUCCEEDED, done.job.failure_reason
    assert (done.detected["encoding"], done.detected["delimiter"]) == (encoding, delimiter)
    assert DatasetRow.objects.get(version=done.version, ubigeo="080101").values["internet_pct"] == 35.5


def test_latin1_file_is_detected(upload, analyst):
    free = dataset_create(user=analyst, name="Notas", kind=Dataset.Kind.FREEFORM)
    done = finished(upload("ubigeo,comentario\n080101,Año de la niñez\n".encode("latin-1"), target=free))
    assert done.job.status == Job.Status.SUCCEEDED
    assert done.detected["encoding"] == "cp1252"
    assert DatasetRow.objects.get(version=done.version).values["comentario"] == "Año de la niñez"


def test_encoding_override_that_does_not_fit_is_a_clear_error(upload, analyst):
    free = dataset_create(user=analyst, name="Notas", kind=Dataset.Kind.FREEFORM)
    done = finished(upload("ubigeo,comentario\n080101,Año\n".encode("latin-1"), target=free, encoding="utf-8"))
    assert done.job.status == Job.Status.FAILED
    assert "utf-8" in done.job.failure_reason and "posición" in done.job.failure_reason
    assert not DatasetVersion.objects.filter(dataset=free).exists()


def test_xlsx_upload(upload):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["UBIGEO", "internet_pct", "escuelas"])
    sheet.append([80101, 35.5, 120])  # a ubigeo typed as a number in Excel loses its leading zero
    sheet.append(["150101", 61, 300])
    buffer = io.BytesIO()
    workbook.save(buffer)
    done = finished(upload(buffer.getvalue(), name="datos.xlsx"))
    assert done.job.status == Job.Status.SUCCEEDED, done.job.failure_reason
    assert set(DatasetRow.objects.filter(version=done.version).values_list("ubigeo", flat=True)) == {"080101", "150101"}
    assert done.detected["repairs"]["ubigeo_leading_zero"]["count"] == 1


def test_ubigeo_that_lost_its_leading_zero_is_repaired_and_reported(upload):
    done = finished(upload("ubigeo,internet_pct\n80101,10\n80102,20\n"))
    assert done.job.status == Job.Status.SUCCEEDED
    assert done.detected["repairs"]["ubigeo_leading_zero"] == {"count": 2, "rows": [2, 3]}
    assert set(DatasetRow.objects.filter(version=done.version).values_list("ubigeo", flat=True)) == {"080101", "080102"}


def test_missing_value_markers_are_missing(upload):
    done = finished(upload("ubigeo,internet_pct,escuelas\n080101,NA,S.I.\n080102,-,\n"))
    assert done.job.status == Job.Status.SUCCEEDED, done.job.failure_reason
    assert DatasetRow.objects.get(version=done.version, ubigeo="080102").values["internet_pct"] is None
    assert done.version.profile["internet_pct"]["missing"] == 2


@pytest.mark.parametrize(
    ("content", "name", "fragment"),
    [
        (b"", "vacio.csv", "está vac"),  # DRF refuses an empty file before our checks run
        (b"ubigeo,internet_pct\n", "cabecera.csv", "no tiene filas"),
        (b"\x00\x01\x02\x03binary\x00" * 20, "binario.csv", "no es un archivo de texto"),
        (b"PK\x03\x04" + b"\x00" * 100, "libro.csv", "XLSX"),
        (b"ubigeo,internet_pct\n080101,1,2\n", "desigual.csv", "línea 2"),
        (b"internet_pct\n10\n", "sinclave.csv", "ubigeo"),
        (b"ubigeo,internet_pct\n080101,1\n", "datos.exe", ".exe"),
    ],
)
def test_unreadable_files_are_refused_whole_with_a_clear_error(upload, content, name, fragment):
    before = state()
    response = upload(content, name=name)
    if response.status_code == 400:  # refused before queueing (the file name)
        assert fragment in response.json()["detail"]
    else:
        done = finished(response)
        assert done.job.status == Job.Status.FAILED
        assert fragment in done.job.failure_reason, done.job.failure_reason
    assert state() == before


@pytest.mark.parametrize(
    ("rows", "column", "code"),
    [
        ("080101,mucho,1", "internet_pct", "not_a_number"),
        ("080101,=1+1,1", "internet_pct", "not_a_number"),
        ("080101,140,1", "internet_pct", "percent_out_of_range"),
        ("999999,10,1", "ubigeo", "unknown_ubigeo"),
        ("08A101,10,1", "ubigeo", "malformed_ubigeo"),
        ("080101,10,1\n080101,20,2", "ubigeo", "duplicate_key"),
    ],
)
def test_bad_rows_are_reported_by_row_and_column_and_nothing_is_written(upload, api_as, analyst, rows, column, code):
    first = finished(upload(GOOD))  # an existing version that a bad upload must not touch
    before = state()
    done = finished(upload(f"ubigeo,internet_pct,escuelas\n150101,5,1\n{rows}\n"))
    assert done.job.status == Job.Status.FAILED
    assert "nada" in done.job.failure_reason
    assert state() == before
    assert DatasetRow.objects.filter(version=first.version).count() == 3
    errors = api_as(analyst).get(f"/api/v1/uploads/{done.pk}/errors/").json()
    assert errors[-1]["column"] == column and errors[-1]["code"] == code
    assert errors[-1]["row"] == 3 + rows.count("\n")
    assert errors[-1]["problem"]


@pytest.mark.parametrize("kind", [Dataset.Kind.DISTRICT_INDICATORS, Dataset.Kind.FREEFORM])
def test_coordinates_outside_peru_are_refused_in_any_dataset(upload, analyst, kind):
    target = dataset_create(user=analyst, name=f"Ubicaciones {kind}", kind=kind)
    done = finished(upload("ubigeo,latitud,longitud\n080101,-13.5,-71.9\n080102,45.0,12.0\n", target=target))
    assert done.job.status == Job.Status.FAILED
    assert {(e["row"], e["column"], e["code"]) for e in done.errors} == {
        (3, "latitud", "outside_peru"),
        (3, "longitud", "outside_peru"),
    }


def test_dropping_invalid_rows_is_an_explicit_recorded_choice(upload):
    content = "ubigeo,internet_pct,escuelas\n080101,10,1\n999999,10,1\n080102,abc,2\n080103,30,3\n"
    done = finished(upload(content, drop_invalid_rows="true"))
    assert done.job.status == Job.Status.SUCCEEDED
    assert done.drop_invalid_rows is True
    assert (done.version.row_count, done.version.dropped_rows, done.error_count) == (2, 2, 2)


def test_error_report_csv_neutralises_formulas(upload, api_as, analyst):
    done = finished(upload('ubigeo,internet_pct,escuelas\n080101,=HYPERLINK("http://x"),1\n'))
    response = api_as(analyst).get(f"/api/v1/uploads/{done.pk}/errors/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


def test_text_cells_that_look_like_formulas_are_stored_as_text_and_neutralised_on_export(upload, api_as, analyst):
    free = dataset_create(user=analyst, name="Notas", kind=Dataset.Kind.FREEFORM)
    done = finished(upload("ubigeo,comentario\n080101,=cmd|' /C calc'!A0\n080102,@SUM(1)\n", target=free))
    assert done.job.status == Job.Status.SUCCEEDED
    assert DatasetRow.objects.get(version=done.version, ubigeo="080101").values["comentario"].startswith("=cmd")
    text = api_as(analyst).get(f"/api/v1/versions/{done.version.pk}/rows/?format=csv").content.decode("utf-8-sig")
    cells = [cell for line in text.splitlines() for cell in line.split(",")]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1)" in cells
    assert not any(cell.startswith(("=", "@")) for cell in cells)


def test_same_bytes_twice_is_detected(upload, dataset):
    first = finished(upload(GOOD))
    again = upload(GOOD)
    assert again.status_code == 409
    assert "versión 1" in again.json()["detail"]
    assert again.json()["upload"] == first.pk
    assert Upload.objects.filter(dataset=dataset).count() == 1


def test_double_submit_while_the_first_is_queued(api_as, analyst, dataset):
    client = api_as(analyst)
    url = f"/api/v1/datasets/{dataset.pk}/versions/"
    first = client.post(url, {"file": SimpleUploadedFile("a.csv", GOOD.encode())}, format="multipart")
    second = client.post(url, {"file": SimpleUploadedFile("b.csv", GOOD.encode())}, format="multipart")
    assert (first.status_code, second.status_code) == (202, 409)
    assert Upload.objects.filter(dataset=dataset).count() == 1


def test_a_failed_upload_can_be_sent_again_keeping_valid_rows(
    upload, api_as, analyst, django_capture_on_commit_callbacks
):
    failed = finished(upload("ubigeo,internet_pct,escuelas\n080101,10,1\n999999,10,1\n"))
    assert failed.job.status == Job.Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(analyst).post(
            f"/api/v1/uploads/{failed.pk}/again/", {"drop_invalid_rows": True}, format="json"
        )
    done = finished(response)
    assert done.job.status == Job.Status.SUCCEEDED and done.version.row_count == 1
    assert done.sha256 == failed.sha256


def test_file_over_the_size_limit_is_refused_before_anything_is_stored(upload, settings):
    settings.MAX_UPLOAD_MB = 1
    before = state()
    response = upload("ubigeo,internet_pct\n" + "080101,1\n" * 200_000)
    assert response.status_code == 413
    assert "1 MB" in response.json()["detail"]
    assert state() == before and not Upload.objects.filter(dataset__slug="conectividad-escolar").exists()


def test_path_like_file_name_is_refused(api_as, analyst, dataset):
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="../../etc/cron.d/x.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + GOOD.encode() + b"\r\n--XyZ--\r\n"
    )
    response = api_as(analyst).generic(
        "POST", f"/api/v1/datasets/{dataset.pk}/versions/", body, content_type="multipart/form-data; boundary=XyZ"
    )
    assert response.status_code == 400
    assert "without folders" in response.json()["detail"]
    assert not Upload.objects.filter(dataset=dataset).exists()


def test_regional_analyst_cannot_upload_rows_outside_their_region(upload, make_user):
    from accounts.models import Role

    cusco_analyst = make_user("analista_cusco", Role.ANALYST, "08")
    done = finished(upload(GOOD, user=cusco_analyst))
    assert done.job.status == Job.Status.FAILED
    assert [e["code"] for e in done.errors] == ["outside_region"]


@pytest.mark.parametrize("role", ["policymaker", "staff"])
def test_only_analysts_and_administrators_upload(upload, role_users, role, dataset):
    response = upload(GOOD, user=role_users[role])
    assert response.status_code == 403
    assert not Upload.objects.filter(dataset=dataset).exists()


def test_administrator_uploads_too(upload, admin_user):
    assert finished(upload(GOOD, user=admin_user)).job.status == Job.Status.SUCCEEDED


def test_csv_exports_neutralise_formula_like_column_names(upload, api_as, analyst):
    free = dataset_create(user=analyst, name="Encabezados", kind=Dataset.Kind.FREEFORM)
    done = finished(upload('ubigeo,"=HYPERLINK(""http://x"",""ver"")",@SUM(1+1)\n080101,a,b\n', target=free))
    assert done.job.status == Job.Status.SUCCEEDED, done.job.failure_reason
    text = api_as(analyst).get(f"/api/v1/versions/{done.version.pk}/rows/?format=csv").content.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert "'=HYPERLINK" in header and "'@SUM" in header


def test_dataset_key_columns_must_be_a_list_of_names(api_as, analyst):
    response = api_as(analyst).post(
        "/api/v1/datasets/", {"name": "Mala", "kind": "freeform", "key_columns": "anio"}, format="json"
    )
    assert response.status_code == 400
    assert not Dataset.objects.filter(name="Mala").exists()
