"""Datasets and their uploads: from a file an analyst sends to an immutable version, or a report of what is wrong."""

import contextlib
import hashlib
import shutil
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core.exceptions import ApplicationError, Conflict, TooLarge
from datasets.models import Dataset, DatasetRow, DatasetVersion, District, Upload
from datasets.services.validation import FileProblem, Outcome, Schema, validate_file
from jobs.models import Job
from jobs.services import job_commit, job_create

ALLOWED_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}

FILE_PROBLEMS = {
    "empty_file": gettext_lazy("The file is empty."),
    "header_only": gettext_lazy("The file has a header but no data rows."),
    "binary_file": gettext_lazy("This is not a text file (it contains binary data). Upload a CSV or XLSX file."),
    "xlsx_named_csv": gettext_lazy(
        "This file is an Excel workbook (XLSX) but its name ends in .csv. Upload it with the .xlsx extension, "
        "or save it from Excel as CSV."
    ),
    "old_excel": gettext_lazy("Old Excel files (.xls) are not supported. Save the file as .xlsx or CSV."),
    "not_xlsx": gettext_lazy("The file is named .xlsx but is not a valid Excel workbook."),
    "unsupported_extension": gettext_lazy(
        "Files ending in %(extension)s are not supported; upload .csv, .txt, .tsv or .xlsx."
    ),
    "unknown_encoding": gettext_lazy("Unknown encoding %(encoding)s; use utf-8, utf-8-sig, latin-1, cp1252 or utf-16."),
    "wrong_encoding": gettext_lazy(
        "The file is not valid %(encoding)s text (first bad byte at position %(position)s). Choose another "
        "encoding, or leave it empty for the platform to detect it."
    ),
    "unknown_delimiter": gettext_lazy("Unknown delimiter %(delimiter)s; use comma, semicolon, tab or pipe."),
    "ragged_row": gettext_lazy(
        "Line %(line)s has %(saw)s fields but the header has %(expected)s. Check for an unquoted delimiter "
        "inside a value, or choose the right delimiter."
    ),
    "unparseable": gettext_lazy("The file could not be read as CSV: %(detail)s"),
    "blank_header": gettext_lazy("Column %(position)s has no name in the header."),
    "duplicate_header": gettext_lazy("These columns appear more than once in the header: %(columns)s."),
    "missing_columns": gettext_lazy("Required columns are missing: %(columns)s."),
    "several_key_columns": gettext_lazy("Several columns could be the ubigeo (%(columns)s); keep only one."),
    "no_value_columns": gettext_lazy("The file has no value columns besides its keys."),
    "too_large": gettext_lazy("The file is %(size)s MB; the limit is %(limit)s MB."),
    "path_in_name": gettext_lazy("The file name must be a plain name, without folders: %(name)s"),
}

ROW_PROBLEMS = {
    "missing_ubigeo": gettext_lazy("the ubigeo is missing"),
    "malformed_ubigeo": gettext_lazy("not a 6-digit ubigeo"),
    "unknown_ubigeo": gettext_lazy("no district has this ubigeo"),
    "outside_region": gettext_lazy("this district is outside your region"),
    "missing_key": gettext_lazy("the key is missing"),
    "key_too_long": gettext_lazy("the key is longer than 60 characters"),
    "text_too_long": gettext_lazy("the text is longer than 2,000 characters"),
    "not_a_number": gettext_lazy("not a number"),
    "percent_out_of_range": gettext_lazy("a percentage must be between 0 and 100"),
    "not_an_integer": gettext_lazy("not a whole number"),
    "negative": gettext_lazy("cannot be negative"),
    "outside_peru": gettext_lazy("the coordinate is outside Peru"),
    "duplicate_key": gettext_lazy("the same key appeared in an earlier row"),
}


def file_problem_message(problem: FileProblem) -> str:
    template = FILE_PROBLEMS.get(problem.code, problem.code)
    try:
        return str(template) % problem.params if problem.params else str(template)
    except (KeyError, TypeError):
        return str(template)


def row_problem_message(code: str) -> str:
    return str(ROW_PROBLEMS.get(code, code))


# --- Datasets ----------------------------------------------------------------------------------------------------


def dataset_create(
    *,
    user,
    name: str,
    kind: str,
    slug: str = "",
    description: str = "",
    source: str = "",
    key_columns: list[str] | None = None,
    percent_columns: list[str] | None = None,
) -> Dataset:
    if user is not None and not user.can_analyse:
        raise PermissionDenied
    slug = slugify(slug or name)[:80]
    if not slug:
        raise ValidationError({"name": _("The name needs at least one letter or digit.")})
    if Dataset.objects.filter(slug=slug).exists():
        raise ValidationError({"name": _("A dataset with this name already exists.")})
    dataset = Dataset(
        slug=slug,
        name=name,
        kind=kind,
        description=description,
        source=source,
        key_columns=[c.strip() for c in key_columns or [] if c.strip()],
        percent_columns=[c.strip() for c in percent_columns or [] if c.strip()],
        created_by=user,
    )
    dataset.full_clean()
    dataset.save()
    return dataset


def datasets_for_user(user):
    """Dataset descriptions are public facts; everyone signed in may read them. Rows are filtered by region."""
    if not user.is_authenticated or not user.is_active:
        return Dataset.objects.none()
    return Dataset.objects.all()


def uploads_for_user(user):
    if not user.is_authenticated or not user.is_active:
        return Upload.objects.none()
    if user.is_administrator:
        return Upload.objects.all()
    if user.is_analyst:
        return Upload.objects.filter(created_by=user)
    return Upload.objects.none()


def rows_for_user(user, version: DatasetVersion):
    return DatasetRow.objects.filter(version=version).filter(user.ubigeo_q("ubigeo"))


# --- Uploads -----------------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name in {".", ".."} or any(ord(c) < 32 for c in name):
        raise ApplicationError(file_problem_message(FileProblem("path_in_name", name=name[:100])))
    if PurePosixPath(name).name != name or PureWindowsPath(name).name != name:
        raise ApplicationError(file_problem_message(FileProblem("path_in_name", name=name[:100])))
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ApplicationError(file_problem_message(FileProblem("unsupported_extension", extension=suffix or "—")))
    return name[:255]


def check_upload_size(size: int) -> None:
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if size > limit:
        raise TooLarge(
            file_problem_message(
                FileProblem("too_large", size=round(size / 1024 / 1024, 1), limit=settings.MAX_UPLOAD_MB)
            ),
            extra={"code": "too_large"},
        )


def _store(uploaded_file, suffix: str) -> tuple[str, str, int]:
    """Keep the original bytes under a name made from their sha256: no user-chosen path reaches the disk."""
    digest = hashlib.sha256()
    size = 0
    for block in uploaded_file.chunks():
        digest.update(block)
        size += len(block)
    sha = digest.hexdigest()
    name = f"uploads/{sha[:2]}/{sha}{suffix}"
    if not default_storage.exists(name):
        uploaded_file.seek(0)
        name = default_storage.save(name, uploaded_file)
    return name, sha, size


def upload_create(
    *,
    user,
    dataset: Dataset,
    uploaded_file,
    encoding: str = "",
    delimiter: str = "",
    drop_invalid_rows: bool = False,
    note: str = "",
) -> Upload:
    """Store the file and queue its ingestion. Refuses a path-like name, a file over the limit, and the same
    bytes already accepted or in progress for this dataset (a double submit)."""
    if not user.can_analyse:
        raise PermissionDenied
    name = _check_name(uploaded_file.name or "")
    check_upload_size(uploaded_file.size)
    stored_name, sha, size = _store(uploaded_file, Path(name).suffix.lower())
    return _upload_record(
        user=user,
        dataset=dataset,
        stored_name=stored_name,
        original_name=name,
        sha=sha,
        size=size,
        encoding=encoding,
        delimiter=delimiter,
        drop_invalid_rows=drop_invalid_rows,
        note=note,
    )


def upload_register(
    *, user, dataset: Dataset, file, name: str, drop_invalid_rows: bool = False, note: str = "", enqueue: bool = True
) -> Upload:
    """Store `file` (a Django File) and record an upload of it, for callers outside a web request: the reference
    loader, benchmarks, tests. `enqueue=False` when the caller runs the job itself (`job_run`)."""
    stored, sha, size = _store(file, Path(name).suffix.lower())
    return _upload_record(
        user=user,
        dataset=dataset,
        stored_name=stored,
        original_name=name,
        sha=sha,
        size=size,
        encoding="",
        delimiter="",
        drop_invalid_rows=drop_invalid_rows,
        note=note,
        enqueue=enqueue,
    )


def upload_again(*, user, upload: Upload, drop_invalid_rows: bool, encoding: str = "", delimiter: str = "") -> Upload:
    """Ingest a failed upload's file again, e.g. keeping only its valid rows, or with another encoding."""
    if not user.can_analyse:
        raise PermissionDenied
    if upload.status != Job.Status.FAILED and upload.status != Job.Status.CANCELLED:
        raise Conflict(_("Only a failed or cancelled upload can be sent again."))
    return _upload_record(
        user=user,
        dataset=upload.dataset,
        stored_name=upload.file.name,
        original_name=upload.original_name,
        sha=upload.sha256,
        size=upload.size_bytes,
        encoding=encoding or upload.encoding,
        delimiter=delimiter or upload.delimiter,
        drop_invalid_rows=drop_invalid_rows,
        note=_("Sent again from upload #%(id)s") % {"id": upload.pk},
    )


def _upload_record(
    *,
    user,
    dataset,
    stored_name,
    original_name,
    sha,
    size,
    encoding,
    delimiter,
    drop_invalid_rows,
    note,
    enqueue: bool = True,
) -> Upload:
    with transaction.atomic():
        # Lock the dataset so two submits of the same bytes are seen one after the other.
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        previous = (
            Upload.objects.filter(dataset=dataset, sha256=sha, job__status__in=Job.ACTIVE + (Job.Status.SUCCEEDED,))
            .select_related("job")
            .first()
        )
        if previous is not None:
            version = getattr(previous, "version", None) if previous.status == Job.Status.SUCCEEDED else None
            if version is not None:
                message = _("This exact file was already accepted as version %(number)s on %(date)s.") % {
                    "number": version.number,
                    "date": previous.created_at.date().isoformat(),
                }
            else:
                message = _("This exact file is already being processed (upload #%(id)s).") % {"id": previous.pk}
            raise Conflict(message, extra={"upload": previous.pk, "job": previous.job_id})
        upload = Upload.objects.create(
            dataset=dataset,
            file=stored_name,
            original_name=original_name,
            file_format="xlsx" if original_name.lower().endswith(".xlsx") else "csv",
            size_bytes=size,
            sha256=sha,
            encoding=encoding,
            delimiter=delimiter,
            drop_invalid_rows=drop_invalid_rows,
            note=note,
            created_by=user,
        )
        upload.job = job_create(
            kind=Job.Kind.DATASET_INGEST,
            created_by=user,
            params={"upload": upload.pk, "dataset": dataset.slug},
            scope=user.effective_region if user else "",
            enqueue=enqueue,
        )
        upload.save(update_fields=["job"])
    return upload


# --- Ingestion (in the worker) -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _local_path(field_file):
    try:
        yield Path(field_file.path)
    except NotImplementedError:  # a storage without local paths: work on a temporary copy
        with tempfile.NamedTemporaryFile(suffix=Path(field_file.name).suffix) as copy:
            with field_file.open("rb") as source:
                shutil.copyfileobj(source, copy)
            copy.flush()
            yield Path(copy.name)


def _record(upload: Upload, outcome: Outcome | None) -> None:
    if outcome is None:
        upload.detected, upload.errors, upload.error_summary, upload.error_count = {}, [], [], 0
    else:
        upload.detected = {
            "format": outcome.file_format,
            "encoding": outcome.encoding,
            "delimiter": outcome.delimiter,
            "rows": outcome.rows_read,
            "valid_rows": outcome.rows_valid,
            "columns": [{"name": c.name, "type": c.type} for c in outcome.columns],
            "repairs": outcome.repairs,
        }
        upload.errors, upload.error_summary, upload.error_count = outcome.errors, outcome.summary, outcome.error_count
    upload.save(update_fields=["detected", "errors", "error_summary", "error_count"])


def dataset_ingest(*, job: Job, progress) -> dict:
    """Validate the upload's file; if it passes (or the analyst chose to drop invalid rows), write the new
    version and all its rows in one transaction. A failure at any point leaves no version and no rows."""
    upload = Upload.objects.select_related("dataset", "created_by").get(job=job)
    already = DatasetVersion.objects.filter(upload=upload).first()
    if already is not None:  # an earlier attempt committed, then lost its worker before saying so
        return {"version": already.pk, "number": already.number, "rows": already.row_count}
    dataset = upload.dataset
    user = upload.created_by
    region = None if user is None or user.region_level == "national" else user.region_codes
    known = set(District.objects.values_list("ubigeo", flat=True))
    schema = Schema(kind=dataset.kind, key_columns=dataset.key_columns, percent_columns=dataset.percent_columns)
    options = {
        "original_name": upload.original_name,
        "schema": schema,
        "known_ubigeos": known,
        "region_prefixes": region,
        "encoding": upload.encoding,
        "delimiter": upload.delimiter,
        "progress": progress,
    }
    with _local_path(upload.file) as path:
        # Inside an outer transaction (tests) a second connection could not see its rows: spool instead.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            outcome, version = _ingest_pipelined(upload, job, path, options, progress)
        else:
            outcome, version = _ingest_spooled(upload, job, path, options, progress)
    return {
        "version": version.pk,
        "number": version.number,
        "rows": outcome.rows_valid,
        "dropped_rows": outcome.rows_read - outcome.rows_valid,
        "errors": outcome.error_count,
    }


def _validate(upload: Upload, path, spool, options) -> Outcome:
    """Check the file into `spool`; record what was found on the upload; raise if nothing may be kept."""
    try:
        outcome = validate_file(path, spool=spool, **options)
    except FileProblem as problem:
        _record(upload, None)
        raise ApplicationError(file_problem_message(problem))
    _record(upload, outcome)
    if outcome.error_count and not upload.drop_invalid_rows:
        bad_rows = outcome.rows_read - outcome.rows_valid
        raise ApplicationError(
            ngettext(
                "%(errors)d problem in %(rows)d row; nothing was saved. See the error report.",
                "%(errors)d problems in %(rows)d rows; nothing was saved. See the error report.",
                bad_rows,
            )
            % {"errors": outcome.error_count, "rows": bad_rows}
        )
    if outcome.rows_valid == 0:
        raise ApplicationError(_("No row is valid; nothing was saved."))
    return outcome


def _version_create(upload: Upload) -> DatasetVersion:
    """Number the new version under a lock on the dataset; call inside the transaction that writes its rows."""
    dataset = upload.dataset
    Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return DatasetVersion.objects.create(
        dataset=dataset, number=number, upload=upload, columns=[], row_count=0, created_by=upload.created_by
    )


def _version_fields(outcome: Outcome) -> dict:
    return {
        "columns": [{"name": c.name, "type": c.type} for c in outcome.columns],
        "row_count": outcome.rows_valid,
        "dropped_rows": outcome.rows_read - outcome.rows_valid,
        "profile": outcome.profile,
    }


def _ingest_spooled(upload: Upload, job: Job, path, options, progress):
    spool_dir = settings.VAR_DIR / "tmp"
    spool_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryFile("w+", dir=spool_dir, encoding="utf-8") as spool:
        outcome = _validate(upload, path, spool, options)
        progress(92, _("Saving %(rows)s rows") % {"rows": f"{outcome.rows_valid:,}"})
        spool.seek(0)
        with transaction.atomic():
            version = _version_create(upload)
            DatasetVersion.objects.filter(pk=version.pk).update(**_version_fields(outcome))
            rows_bulk_insert(version_id=version.pk, spool=spool)
            job_commit(job=job)
    version.refresh_from_db()
    return outcome, version


def _version_finish(pk: int, fields: dict, job: Job) -> None:
    DatasetVersion.objects.filter(pk=pk).update(**fields)
    job_commit(job=job)


def _ingest_pipelined(upload: Upload, job: Job, path, options, progress):
    from datasets.services.copy_writer import PipelinedCopy

    writer = PipelinedCopy(
        create_version=lambda: _version_create(upload).pk,
        finish_version=lambda pk, fields: _version_finish(pk, fields, job),
    )
    try:
        outcome = _validate(upload, path, writer, options)
        progress(95, _("Saving %(rows)s rows") % {"rows": f"{outcome.rows_valid:,}"})
        version_id = writer.commit(**_version_fields(outcome))
    except BaseException:
        writer.abort()
        raise
    return outcome, DatasetVersion.objects.get(pk=version_id)


def rows_bulk_insert(*, version_id: int, spool) -> None:
    """PostgreSQL: COPY straight from the spool. SQLite: batched executemany. Call inside the version's transaction."""
    table = DatasetRow._meta.db_table
    columns = '"version_id", "row_number", "ubigeo", "key", "values"'
    prefix = f"{version_id}\t"
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor() as raw, raw.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
            pending = ""
            while block := spool.read(1 << 22):
                block = pending + block
                cut = block.rfind("\n") + 1
                pending = block[cut:]
                if cut:
                    copy.write(prefix + block[: cut - 1].replace("\n", "\n" + prefix) + "\n")
        return
    sql = f'INSERT INTO "{table}" ({columns}) VALUES (%s, %s, %s, %s, %s)'  # noqa: S608 - names from the model
    batch = []
    with connection.cursor() as cursor:
        for line in spool:
            row_number, ubigeo, key, values = line.rstrip("\n").split("\t", 3)
            batch.append((version_id, int(row_number), ubigeo, key, values.replace("\\\\", "\\")))
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
