import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from datasets.models import Dataset, FeatureSnapshot, Upload

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


ANALYST_PAGES = ["/datasets/", "/datasets/new/", "/datasets/censo-2017-servicios/", "/datasets/feature-tables/"]


@pytest.mark.parametrize("url", ANALYST_PAGES)
def test_dataset_pages_are_for_analysts_and_administrators(client, role_users, url, make_user):
    from accounts.models import Role

    users = {**role_users, "analyst_cusco": make_user("an_cusco", Role.ANALYST, "08")}
    for role, user in users.items():
        client.force_login(user)
        expected = 200 if role in {"admin", "analyst", "analyst_cusco"} else 403
        assert client.get(url).status_code == expected, (role, url)


def test_upload_through_the_page_then_report(client, analyst, django_capture_on_commit_callbacks):
    client.force_login(analyst)
    dataset = Dataset.objects.get(slug="censo-2017-servicios")
    content = b"ubigeo,agua,internet\n080101,95,20\n080102,abc,10\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/datasets/{dataset.slug}/", {"file": SimpleUploadedFile("nuevo.csv", content)})
    upload = Upload.objects.get(original_name="nuevo.csv")
    assert response.status_code == 302 and response["Location"] == f"/datasets/uploads/{upload.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "no es un número" in page and "agua" in page and "abc" in page
    report = body(client.get(f"/datasets/uploads/{upload.pk}/?format=csv"))
    assert "3,agua,abc,no es un número" in report
    assert '<select name="delimiter">' in page  # a wrong guess can be corrected when sending again
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/datasets/uploads/{upload.pk}/", {"drop_invalid_rows": "on", "delimiter": ","})
    page = client.get(again["Location"]).content.decode()
    assert "Aceptado como" in page and "1 filas inválidas descartadas" in page


def test_version_page_shows_the_column_profile(client, analyst):
    client.force_login(analyst)
    dataset = Dataset.objects.get(slug="ece-resultados-distritales")
    page = client.get(f"/datasets/versions/{dataset.latest_version().pk}/").content.decode()
    assert "ece18_4p_lec_sat" in page and 'class="histogram"' in page


def test_snapshot_pages(client, analyst, staff_cusco):
    snapshot = FeatureSnapshot.objects.get(name="Línea base nacional")
    client.force_login(analyst)
    page = client.get(f"/datasets/feature-tables/{snapshot.pk}/").content.decode()
    assert "censo-2017-servicios" not in page and "Censo 2017" in page  # lineage names the dataset
    client.force_login(staff_cusco)
    export = body(client.get(f"/datasets/feature-tables/{snapshot.pk}/?format=csv"))
    assert len(export.strip().splitlines()) == 2  # header + the staff member's one district


def test_a_long_error_report_says_where_it_is_cut(client, analyst, django_capture_on_commit_callbacks):
    from datasets.models import District

    client.force_login(analyst)
    ubigeos = list(District.objects.order_by("ubigeo").values_list("ubigeo", flat=True)[:1500])
    content = "ubigeo,agua\n" + "".join(f"{u},mucha\n" for u in ubigeos)
    dataset = Dataset.objects.get(slug="censo-2017-servicios")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/datasets/{dataset.slug}/", {"file": SimpleUploadedFile("largo.csv", content.encode())}
        )
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="errors-truncated"' in page and "1000" in page.replace(".", "").replace(",", "")
    upload = Upload.objects.get(original_name="largo.csv")
    assert upload.error_count == 1500 and upload.error_summary[0]["count"] == 1500
    assert len(body(client.get(f"/datasets/uploads/{upload.pk}/?format=csv")).strip().splitlines()) == 1 + 1000


def test_a_file_over_the_limit_is_refused_by_the_page_before_the_body_is_read(client, analyst, settings):
    settings.MAX_UPLOAD_MB = 1
    client.force_login(analyst)
    uploads = Upload.objects.count()
    big = SimpleUploadedFile("grande.csv", b"ubigeo,agua\n" + b"080101,1\n" * 200_000)
    response = client.post("/datasets/censo-2017-servicios/", {"file": big})
    assert response.status_code == 413 and "1 MB" in response.content.decode()
    # Only the declared length counts: a body that claims to be larger is refused unread.
    small = SimpleUploadedFile("pequeño.csv", b"ubigeo,agua\n080101,1\n")
    claimed = client.post("/datasets/censo-2017-servicios/", {"file": small}, CONTENT_LENGTH=str(5 * 1024 * 1024))
    assert claimed.status_code == 413
    assert Upload.objects.count() == uploads
