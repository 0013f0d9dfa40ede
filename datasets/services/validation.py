"""Read a CSV or XLSX upload in bounded chunks, check it against its dataset's schema, and spool the clean rows.

Plain Python and pandas, no Django: `validate_file` takes a path, a `Schema` and the set of known ubigeos, and
returns an `Outcome` (errors, repairs, column profile) plus a spool file of rows ready for a bulk insert
(`row_number, ubigeo, key, values-as-JSON`, one line each in PostgreSQL COPY text format). Memory stays
bounded by the chunk size whatever the file size; only the set of keys seen (for duplicates) grows with the rows.
"""

import codecs
import csv
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

CHUNK_ROWS = 50_000
MAX_STORED_ERRORS = 1_000
PROFILE_SAMPLE = 20_000
PERCENT_TOLERANCE = 1e-6
HISTOGRAM_BINS = 10
# Peru's bounding box, with a margin: anything outside is a swapped or mistyped coordinate.
PERU_LAT = (-18.5, 0.1)
PERU_LON = (-81.5, -68.5)
MISSING_MARKERS = {"", "na", "n/a", "n.a.", "nan", "null", "none", "s.i.", "s.i", "s/i", "-", "--", "nd", "n.d."}
KEY_ALIASES = {"ubigeo", "inei", "codgeo", "cod_ubigeo", "ubigeo_inei", "idgeo", "iddist"}
ENCODINGS = {"utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class FileProblem(Exception):
    """The file as a whole cannot be read (empty, binary, wrong encoding, missing columns): nothing is kept."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # ubigeo | key | number | percent | integer | latitude | longitude | text


@dataclass
class Schema:
    """What a dataset's files must contain. `kind` picks the rules; the lists come from the Dataset row."""

    kind: str
    key_columns: list[str] = field(default_factory=list)
    percent_columns: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    rows_read: int = 0
    rows_valid: int = 0
    encoding: str = ""
    delimiter: str = ""
    file_format: str = ""
    columns: list[Column] = field(default_factory=list)
    error_count: int = 0
    errors: list[dict] = field(default_factory=list)
    error_counts: Counter = field(default_factory=Counter)
    repairs: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)

    def add_error(self, row: int, column: str, value, code: str) -> None:
        self.error_count += 1
        self.error_counts[(column, code)] += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            text = "" if value is None else str(value)
            self.errors.append({"row": int(row), "column": column, "value": text[:200], "code": code})

    @property
    def summary(self) -> list[dict]:
        return [
            {"column": column, "code": code, "count": count}
            for (column, code), count in self.error_counts.most_common()
        ]


# --- Recognising the file --------------------------------------------------------------------------------------


def detect_format(path: Path, original_name: str) -> str:
    """csv or xlsx, from the name, refusing a file whose bytes say it is something else."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if not head:
        raise FileProblem("empty_file")
    suffix = Path(original_name).suffix.lower()
    is_zip = head.startswith(b"PK\x03\x04")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem("old_excel")
    if suffix == ".xlsx":
        if not is_zip:
            raise FileProblem("not_xlsx")
        return "xlsx"
    if suffix not in {".csv", ".txt", ".tsv"}:
        raise FileProblem("unsupported_extension", extension=suffix or "(none)")
    if is_zip:
        raise FileProblem("xlsx_named_csv")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem("binary_file")
    return "csv"


def detect_encoding(path: Path, override: str = "") -> str:
    """The override if it decodes the whole file, else UTF-8 (with or without BOM), else Windows-1252/Latin-1."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if override:
        if override not in ENCODINGS:
            raise FileProblem("unknown_encoding", encoding=override)
        position = _first_undecodable(path, override)
        if position is not None:
            raise FileProblem("wrong_encoding", encoding=override, position=position)
        return override
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        candidate = "utf-8-sig"
    else:
        candidate = "utf-8"
    if _first_undecodable(path, candidate) is None:
        return candidate
    if _first_undecodable(path, "cp1252") is None:
        return "cp1252"
    return "latin-1"


def _first_undecodable(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def detect_delimiter(path: Path, encoding: str, override: str = "") -> str:
    if override:
        override = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(override, override)
        if override not in DELIMITERS:
            raise FileProblem("unknown_delimiter", delimiter=override)
        return override
    with open(path, encoding=encoding, newline="") as handle:
        header = handle.readline()
    counts = {d: _count_outside_quotes(header, d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


# --- Reading in chunks ------------------------------------------------------------------------------------------


def read_chunks(path: Path, file_format: str, encoding: str, delimiter: str) -> Iterator[tuple[pd.DataFrame, float]]:
    """(DataFrame of text cells, fraction of the file read so far), CHUNK_ROWS rows at a time.

    Cells stay text (no type inference) so that each check sees exactly what the file says.
    """
    if file_format == "xlsx":
        yield from _xlsx_chunks(path)
        return
    expected_rows = _estimate_rows(path)
    header = _read_header(path, encoding, delimiter)
    rows = 0
    try:
        with warnings.catch_warnings():
            # pandas only warns when a row has a field too many (and drops it): make that an error.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            reader = pd.read_csv(
                path,
                sep=delimiter,
                encoding=encoding,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                chunksize=CHUNK_ROWS,
                engine="c",
                skip_blank_lines=True,
                header=0,
                names=header,
                index_col=False,
            )
            with reader:
                for chunk in reader:
                    rows += len(chunk)
                    yield chunk, min(1.0, rows / expected_rows)
    except pd.errors.EmptyDataError:
        raise FileProblem("empty_file")
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        ragged = _first_ragged_line(path, encoding, delimiter, len(header))
        if ragged:
            line, saw = ragged
            raise FileProblem("ragged_row", line=line, expected=len(header), saw=saw)
        raise FileProblem("unparseable", detail=str(exc)[:300])
    except UnicodeDecodeError as exc:
        raise FileProblem("wrong_encoding", encoding=encoding, position=exc.start)


def _first_ragged_line(path: Path, encoding: str, delimiter: str, width: int) -> tuple[int, int] | None:
    """The slow path, taken only once a file is known to be malformed: find the line that says so."""
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        for fields in reader:
            if fields and len(fields) > width:
                return reader.line_num, len(fields)
    return None


def _read_header(path: Path, encoding: str, delimiter: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), None)
    if not header:
        raise FileProblem("empty_file")
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    lowered = [h.lower() for h in cleaned]
    duplicates = sorted({h for h in cleaned if h and lowered.count(h.lower()) > 1})
    if duplicates:
        raise FileProblem("duplicate_header", columns=", ".join(duplicates))
    if "" in cleaned:
        raise FileProblem("blank_header", position=cleaned.index("") + 1)
    return header


def _estimate_rows(path: Path) -> int:
    """Rows in a text file, from the line length of its first megabyte: enough for a progress bar."""
    with open(path, "rb") as handle:
        sample = handle.read(1 << 20)
    lines = max(1, sample.count(b"\n"))
    return max(1, int(path.stat().st_size / (len(sample) / lines)))


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _xlsx_chunks(path: Path) -> Iterator[tuple[pd.DataFrame, float]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to open means the workbook is unreadable
        raise FileProblem("not_xlsx", detail=str(exc)[:200])
    try:
        sheet = workbook.worksheets[0]
        expected_rows = max(1, (sheet.max_row or 1) - 1)
        rows = sheet.iter_rows(values_only=True)
        header = [_xlsx_cell(cell) for cell in next(rows, None) or []]
        while header and header[-1] == "":
            header.pop()
        if not header:
            raise FileProblem("empty_file")
        width, buffer, done = len(header), [], 0
        for row in rows:
            cells = [_xlsx_cell(cell) for cell in row[:width]]
            if not any(cells):
                continue
            buffer.append(cells + [""] * (width - len(cells)))
            if len(buffer) >= CHUNK_ROWS:
                done += len(buffer)
                yield pd.DataFrame(buffer, columns=header, dtype=str), min(1.0, done / expected_rows)
                buffer = []
        if buffer or not done:
            yield pd.DataFrame(buffer, columns=header, dtype=str), 1.0
    finally:
        workbook.close()


# --- The schema applied to a header ------------------------------------------------------------------------------

REGISTRY_COLUMNS = {
    "COD_MOD": "key",
    "ANEXO": "key",
    "CODGEO": "ubigeo",
    "NLAT_IE": "latitude",
    "NLONG_IE": "longitude",
    "TALUMNO": "integer",
    "TDOCENTE": "integer",
    "AREA_CENSO": "text",
    "GESTION": "text",
    "NIV_MOD": "text",
}
REGISTRY_REQUIRED = [
    "COD_MOD",
    "CODGEO",
    "NLAT_IE",
    "NLONG_IE",
    "TALUMNO",
    "TDOCENTE",
    "AREA_CENSO",
    "GESTION",
    "NIV_MOD",
]


def plan_columns(header: list[str], schema: Schema, first_chunk: pd.DataFrame) -> tuple[list[Column], dict]:
    """Decide each column's name and type from the header; returns the columns (keys first) and a rename map."""
    cleaned = [str(h).strip().lstrip("\ufeff") for h in header]
    if any(not h for h in cleaned):
        raise FileProblem("blank_header", position=cleaned.index("") + 1)
    lowered = [h.lower() for h in cleaned]
    duplicates = sorted({h for h in cleaned if lowered.count(h.lower()) > 1})
    if duplicates:
        raise FileProblem("duplicate_header", columns=", ".join(duplicates))
    rename = dict(zip(header, cleaned, strict=True))

    if schema.kind == "school_registry":
        upper = {h.upper(): h for h in cleaned}
        missing = [name for name in REGISTRY_REQUIRED if name not in upper]
        if missing:
            raise FileProblem("missing_columns", columns=", ".join(missing))
        rename = {orig: (new.upper() if new.upper() in REGISTRY_COLUMNS else new) for orig, new in rename.items()}
        keys = [Column("COD_MOD", "key")] + ([Column("ANEXO", "key")] if "ANEXO" in upper else [])
        columns = keys + [Column("CODGEO", "ubigeo")]
        for new in rename.values():
            if new not in {c.name for c in columns}:
                columns.append(Column(new, REGISTRY_COLUMNS.get(new, "text")))
        return columns, rename

    key_positions = [i for i, h in enumerate(lowered) if h in KEY_ALIASES]
    if not key_positions:
        raise FileProblem("missing_columns", columns="ubigeo")
    if len(key_positions) > 1:
        raise FileProblem("several_key_columns", columns=", ".join(cleaned[i] for i in key_positions))
    rename[header[key_positions[0]]] = "ubigeo"
    columns = [Column("ubigeo", "ubigeo")]
    extra_keys = {k.lower() for k in schema.key_columns}
    missing_keys = sorted(extra_keys - set(lowered))
    if missing_keys:
        raise FileProblem("missing_columns", columns=", ".join(missing_keys))
    percent = {p.lower() for p in schema.percent_columns}
    values = []
    for original, new in zip(header, cleaned, strict=True):
        if rename[original] == "ubigeo":
            continue
        if new.lower() in extra_keys:
            columns.append(Column(new, "key"))
        elif new.lower() in COORDINATE_NAMES:
            values.append(Column(new, COORDINATE_NAMES[new.lower()]))
        elif schema.kind == "learning_outcomes" or new.lower() in percent:
            values.append(Column(new, "percent"))
        elif schema.kind == "freeform":
            values.append(Column(new, _infer_type(first_chunk[original])))
        else:
            values.append(Column(new, "number"))
    if schema.kind == "learning_outcomes" and not any(re.match(r"^ece\d{2}_", c.name.lower()) for c in values):
        raise FileProblem("missing_columns", columns="ece…")
    if not values:
        raise FileProblem("no_value_columns")
    return columns + values, rename


# Coordinates are checked to lie inside Peru whatever the dataset type.
COORDINATE_NAMES = {
    **dict.fromkeys(("lat", "latitud", "latitude", "nlat"), "latitude"),
    **dict.fromkeys(("lon", "long", "lng", "longitud", "longitude", "nlong"), "longitude"),
}


def _infer_type(series: pd.Series) -> str:
    present = series[~_missing_mask(series)]
    if present.empty:
        return "number"
    numbers = pd.to_numeric(present.str.strip().str.replace(",", ".", regex=False), errors="coerce")
    return "number" if numbers.notna().all() else "text"


# --- Checking cells ----------------------------------------------------------------------------------------------


def _missing_mask(series: pd.Series) -> pd.Series:
    return series.str.strip().str.lower().isin(MISSING_MARKERS)


def _parse_numbers(raw: pd.Series, decimal_comma: bool) -> tuple[pd.Series, pd.Series]:
    """(numbers, missing). Plain numbers are parsed in C; only the cells that fail get the slower repairs
    (missing markers, a decimal comma, a trailing %), so a clean column costs one pass."""
    numbers = pd.to_numeric(raw, errors="coerce")
    failed = numbers.isna()
    missing = pd.Series(False, index=raw.index)
    if failed.any():
        rest = raw[failed]
        rest_missing = _missing_mask(rest)
        missing[rest_missing.index[rest_missing.to_numpy()]] = True
        text = rest[~rest_missing].str.strip()
        if len(text):
            if decimal_comma:
                text = text.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)
            text = text.str.replace(r"^(-?[\d.]+)\s*%$", r"\1", regex=True)
            numbers[text.index] = pd.to_numeric(text, errors="coerce")
    return numbers, missing


@dataclass
class _ColumnProfile:
    kind: str
    count: int = 0
    missing: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    total: float = 0.0
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))
    seen: int = 0
    values: Counter = field(default_factory=Counter)

    def add_numbers(self, values: np.ndarray, rng: np.random.Generator) -> None:
        if not len(values):
            return
        self.count += len(values)
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        self.total += float(values.sum())
        # Reservoir sampling (algorithm R), vectorised: value i of the stream replaces slot j < size when a
        # uniform draw in [0, i] lands there; later values overwrite earlier ones, as in the sequential form.
        room = PROFILE_SAMPLE - len(self.sample)
        if room > 0:
            self.sample = np.concatenate([self.sample, values[:room]])
            self.seen += min(room, len(values))
            values = values[room:]
        if len(values):
            positions = self.seen + np.arange(len(values))
            slots = rng.integers(0, positions + 1)
            keep = slots < PROFILE_SAMPLE
            self.sample[slots[keep]] = values[keep]
            self.seen += len(values)

    def add_text(self, values: pd.Series) -> None:
        self.count += len(values)
        if len(self.values) < 10_000:
            self.values.update(values.tolist())

    def result(self) -> dict:
        if self.kind in {"text", "key", "ubigeo"}:
            return {
                "type": self.kind,
                "count": self.count,
                "missing": self.missing,
                "distinct": len(self.values) if len(self.values) < 10_000 else None,
                "top": [[value, count] for value, count in self.values.most_common(5)],
            }
        profile = {"type": self.kind, "count": self.count, "missing": self.missing}
        if self.count:
            profile.update(min=self.minimum, max=self.maximum, mean=self.total / self.count)
            counts, edges = np.histogram(self.sample, bins=HISTOGRAM_BINS, range=(self.minimum, self.maximum))
            scale = self.count / max(1, len(self.sample))
            profile["histogram"] = {
                "counts": [round(c * scale) for c in counts.tolist()],
                "edges": [round(e, 6) for e in edges.tolist()],
                "sampled": len(self.sample) < self.count,
            }
        return profile


class _Checker:
    """Applies the column plan to each chunk, recording errors and building the clean rows."""

    def __init__(
        self,
        columns: list[Column],
        known_ubigeos: set[str],
        region_prefixes: list[str] | None,
        decimal_comma: bool,
        outcome: Outcome,
    ):
        self.columns = columns
        self.known = known_ubigeos
        self.region = region_prefixes
        self.decimal_comma = decimal_comma
        self.outcome = outcome
        self.first_row_of_key: dict[str, int] = {}
        self.profiles = {c.name: _ColumnProfile(c.type) for c in columns}
        self.rng = np.random.default_rng(0)
        self.repaired_rows: list[int] = []
        self.repaired_count = 0
        extra_keys = [c.name for c in columns if c.type == "key"]
        self.key_names = ["ubigeo", *extra_keys] if columns[0].type == "ubigeo" else extra_keys
        self.key_label = "|".join(self.key_names)

    def check(self, chunk: pd.DataFrame, first_line: int) -> tuple[pd.DataFrame, np.ndarray]:
        chunk = chunk.reset_index(drop=True)
        rows = np.arange(first_line, first_line + len(chunk))
        bad = np.zeros(len(chunk), dtype=bool)
        clean: dict[str, pd.Series] = {}
        for column in self.columns:
            raw = chunk[column.name]
            handler = getattr(self, f"_check_{column.type}")
            values, missing, errors = handler(raw, rows)
            self.profiles[column.name].missing += int(missing.sum())
            for code, mask in errors:
                mask = np.asarray(mask, dtype=bool)
                if not mask.any():
                    continue
                bad |= mask
                for index in np.flatnonzero(mask):
                    self.outcome.add_error(rows[index], column.name, raw.iloc[index], code)
            clean[column.name] = values
        frame = pd.DataFrame(clean)
        bad |= self._check_duplicates(frame, rows, bad)
        good = ~bad
        for column in self.columns:
            values = frame[column.name][good]
            if column.type in {"text", "key", "ubigeo"}:
                self.profiles[column.name].add_text(values.dropna())
            else:
                numbers = values.to_numpy(dtype="float64", na_value=np.nan)
                self.profiles[column.name].add_numbers(numbers[~np.isnan(numbers)], self.rng)
        return frame[good], rows[good]

    def _check_ubigeo(self, raw, rows):
        values = raw.copy()
        known = raw.isin(self.known)
        missing = pd.Series(False, index=raw.index)
        errors = []
        if not known.all():  # the slow path, for the few cells that are not a known code as written
            rest = raw[~known]
            rest_missing = _missing_mask(rest)
            missing[rest.index[rest_missing.to_numpy()]] = True
            text = rest.str.strip().str.replace(r"\.0+$", "", regex=True)
            digits = text.str.fullmatch(r"\d{5,6}").fillna(False).astype(bool)
            repaired = digits & (text.str.len() == 5)
            text = text.where(~repaired, text.str.zfill(6))
            values[text.index] = text
            if repaired.any():
                repaired_rows = rows[repaired.index[repaired.to_numpy()]]
                self.repaired_count += int(repaired.sum())
                self.repaired_rows.extend(repaired_rows[: max(0, 20 - len(self.repaired_rows))].tolist())
            malformed = pd.Series(False, index=raw.index)
            malformed[rest.index] = (~rest_missing & ~digits).to_numpy()
            unknown = pd.Series(False, index=raw.index)
            unknown[rest.index] = (~rest_missing & digits & ~text.isin(self.known)).to_numpy()
            errors += [("missing_ubigeo", missing), ("malformed_ubigeo", malformed), ("unknown_ubigeo", unknown)]
        if self.region is not None:
            inside = values.str.startswith(tuple(self.region)).fillna(False) if self.region else False
            errors.append(("outside_region", values.isin(self.known) & ~inside))
        return values.where(~missing, None), missing, errors

    def _check_key(self, raw, rows):
        missing = _missing_mask(raw)
        values = raw.str.strip().str.replace(r"[\r\n\t|\\]", " ", regex=True)
        return (
            values.where(~missing, None),
            missing,
            [("missing_key", missing), ("key_too_long", values.str.len() > 60)],
        )

    def _check_text(self, raw, rows):
        missing = _missing_mask(raw)
        values = raw.str.strip()
        return values.where(~missing, None), missing, [("text_too_long", values.str.len() > 2000)]

    def _numbers(self, raw):
        numbers, missing = _parse_numbers(raw, self.decimal_comma)
        infinite = np.isinf(numbers)
        not_number = (~missing & numbers.isna()) | infinite
        return numbers.where(~infinite), missing, not_number

    def _check_number(self, raw, rows):
        numbers, missing, not_number = self._numbers(raw)
        return numbers, missing, [("not_a_number", not_number)]

    def _check_percent(self, raw, rows):
        numbers, missing, not_number = self._numbers(raw)
        # Published shares computed in floating point come out as 100.00000000000003: noise, not an error.
        out_of_range = (numbers < -PERCENT_TOLERANCE) | (numbers > 100 + PERCENT_TOLERANCE)
        return numbers.clip(0, 100), missing, [("not_a_number", not_number), ("percent_out_of_range", out_of_range)]

    def _check_integer(self, raw, rows):
        numbers, missing, not_number = self._numbers(raw)
        fractional = numbers.notna() & (numbers % 1 != 0)
        return (
            numbers,
            missing,
            [("not_a_number", not_number), ("not_an_integer", fractional), ("negative", numbers < 0)],
        )

    def _check_latitude(self, raw, rows):
        numbers, missing, not_number = self._numbers(raw)
        outside = numbers.notna() & ((numbers < PERU_LAT[0]) | (numbers > PERU_LAT[1]))
        return numbers, missing, [("not_a_number", not_number), ("outside_peru", outside)]

    def _check_longitude(self, raw, rows):
        numbers, missing, not_number = self._numbers(raw)
        outside = numbers.notna() & ((numbers < PERU_LON[0]) | (numbers > PERU_LON[1]))
        return numbers, missing, [("not_a_number", not_number), ("outside_peru", outside)]

    def key_series(self, frame: pd.DataFrame) -> pd.Series:
        key = frame[self.key_names[0]].fillna("").astype(str)
        for name in self.key_names[1:]:
            key = key + "|" + frame[name].fillna("").astype(str)
        return key

    def _check_duplicates(self, frame, rows, bad) -> np.ndarray:
        keys = self.key_series(frame).tolist()
        duplicate = np.zeros(len(frame), dtype=bool)
        first_rows = self.first_row_of_key
        for position in np.flatnonzero(~bad):
            key = keys[position]
            first = first_rows.setdefault(key, int(rows[position]))
            if first != rows[position]:
                duplicate[position] = True
                self.outcome.add_error(rows[position], self.key_label, f"{key} (= row {first})", "duplicate_key")
        return duplicate


# --- The whole file ----------------------------------------------------------------------------------------------


def validate_file(
    path: Path,
    *,
    original_name: str,
    schema: Schema,
    known_ubigeos: set[str],
    spool,
    region_prefixes: list[str] | None = None,
    encoding: str = "",
    delimiter: str = "",
    progress: Callable[[float, str], None] | None = None,
) -> Outcome:
    """Check every row; write the valid ones to `spool` (a text file) as CSV lines for the bulk insert.

    Raises FileProblem when the file cannot be read at all. Row problems are in `Outcome.errors`.
    `region_prefixes` limits rows to a region (None: no limit).
    """
    outcome = Outcome()
    outcome.file_format = detect_format(path, original_name)
    if outcome.file_format == "csv":
        outcome.encoding = detect_encoding(path, encoding)
        outcome.delimiter = detect_delimiter(path, outcome.encoding, delimiter)
    checker = None
    line = 2  # the header is line 1
    for chunk, fraction in read_chunks(path, outcome.file_format, outcome.encoding, outcome.delimiter):
        if checker is None:
            outcome.columns, rename = plan_columns(list(chunk.columns), schema, chunk)
            checker = _Checker(
                outcome.columns,
                known_ubigeos,
                region_prefixes,
                decimal_comma=outcome.delimiter not in {",", ""},
                outcome=outcome,
            )
        chunk = chunk.rename(columns=rename)
        outcome.rows_read += len(chunk)
        clean, rows = checker.check(chunk, line)
        line += len(chunk)
        if len(clean):
            _spool_rows(spool, clean, rows, checker)
            outcome.rows_valid += len(clean)
        if progress:
            progress(90.0 * fraction, f"{outcome.rows_read:,} rows checked")
    if checker is None:
        raise FileProblem("empty_file")
    if outcome.rows_read == 0:
        raise FileProblem("header_only")
    outcome.profile = {name: profile.result() for name, profile in checker.profiles.items()}
    if checker.repaired_count:
        outcome.repairs["ubigeo_leading_zero"] = {"count": checker.repaired_count, "rows": checker.repaired_rows}
    return outcome


def _spool_rows(spool, clean: pd.DataFrame, rows: np.ndarray, checker: _Checker) -> None:
    """Append rows in PostgreSQL COPY text format: row_number, ubigeo, key, values as JSON, tab-separated.

    pandas writes the JSON in C; with ASCII-only output a record has no raw tab or line break, and doubling
    backslashes is all the COPY escaping it needs (keys have tabs, line breaks and backslashes replaced).
    """
    names = [c.name for c in checker.columns]
    payload = clean[names].to_json(orient="records", lines=True, double_precision=15, force_ascii=True)
    lines = payload.replace("\\", "\\\\").split("\n")
    keys = checker.key_series(clean).tolist()
    ubigeos = (clean["CODGEO"] if "CODGEO" in clean else clean["ubigeo"]).fillna("").tolist()
    spool.write(
        "".join(
            f"{row}\t{ubigeo}\t{key}\t{line}\n"
            for row, ubigeo, key, line in zip(rows.tolist(), ubigeos, keys, lines, strict=False)
        )
    )
