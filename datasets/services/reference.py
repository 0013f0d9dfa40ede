"""The reference tables the platform ships become the first dataset versions, through the same upload path and
validation as any analyst's file. Rows the registry cannot place (codes missing from the master table) are
dropped, and the upload records that choice and the rows concerned."""

import hashlib
import io

import pandas as pd
from django.core.files.base import ContentFile

from datasets.models import Dataset, DatasetVersion, District
from datasets.services.registry import FILES, INEI_CODE_FIXES, read_bytes, read_csv, resolve
from datasets.services.uploads import dataset_ingest, upload_register
from jobs.services import job_run

MASTER_COLUMNS = [
    "superficie",
    "pob_densidad_2020",
    "altitude",
    "latitude",
    "longitude",
    "indice_vulnerabilidad_alimentaria",
    "idh_2019",
    "pct_pobreza_total",
    "pct_pobreza_extrema",
]

REFERENCE_DATASETS = [
    {
        "slug": "indicadores-socioeconomicos",
        "name": "Indicadores socioeconómicos distritales (INEI, PNUD, MIDIS)",
        "kind": Dataset.Kind.DISTRICT_INDICATORS,
        "percent_columns": ["pct_pobreza_total", "pct_pobreza_extrema"],
        "source": "jmcastagnetto/ubigeo-peru-aumentado (MIT), from INEI (area, altitude, capital coordinates, "
        "poverty map 2018; extreme poverty 2013), PNUD Perú (IDH 2019), MIDIS/WFP (food vulnerability), "
        "population density 2020.",
        "description": "Area (km²), density, capital altitude and coordinates, food vulnerability index, IDH 2019 "
        "(contains education: not a default model feature), monetary poverty.",
        "file": FILES["districts"],
    },
    {
        "slug": "censo-2017-servicios",
        "name": "Censo 2017: agua, desagüe, electricidad e internet",
        "kind": Dataset.Kind.DISTRICT_INDICATORS,
        "percent_columns": ["agua", "desague", "electricidad", "internet", "pobreza", "pobrezaExt"],
        "source": "unimauro/qhaway-dashboard (CC BY 4.0), from INEI Censos Nacionales 2017 via REDATAM "
        "(dwellings with public water, sewerage, electricity; households with internet); population.",
        "description": "Census 2017 coverage of basic services, in % of dwellings or households.",
        "file": "services/indicadores-distrito.csv",
    },
    {
        "slug": "ece-resultados-distritales",
        "name": "ECE: logros de aprendizaje por distrito (MINEDU-UMC)",
        "kind": Dataset.Kind.LEARNING_OUTCOMES,
        "percent_columns": [],
        "source": "unimauro/impacto-pisa (CC BY 4.0), from MINEDU-UMC Evaluación Censal de Estudiantes: 4th primary "
        "2016 and 2018, 2nd secondary 2019; ESCALE dropout 2023-24 and over-age 2025. Some ECE 2018 "
        "values are withheld in this copy.",
        "description": "% of students at the satisfactory level in reading and maths, coverage, dropout, over-age.",
        "file": "ece/ece_district.csv",
    },
    {
        "slug": "desercion-lengua-materna",
        "name": "Deserción interanual y lengua materna indígena",
        "kind": Dataset.Kind.DISTRICT_INDICATORS,
        "percent_columns": ["admin_dropout_rate", "indigenous_language_pct"],
        "source": "Enriquefft/Alerta-Escuela-Equity-Audit (MIT), from MINEDU datos abiertos (interannual dropout) "
        "and INEI Census 2017 (mother tongue).",
        "description": "Interannual dropout rate (%) and % of the population with an indigenous mother tongue.",
        "file": "dropout_language/dropout_language.csv",
    },
    {
        "slug": "geografia-centros-poblados",
        "name": "Geografía: centros poblados por distrito",
        "kind": Dataset.Kind.DISTRICT_INDICATORS,
        "percent_columns": ["places_rural_share"],
        "source": "Computed by the platform from INEI's 94,922 centros poblados (ubigeo-peru-aumentado): count, "
        "urban count, % rural, mean and maximum distance (km) from each place to the district capital.",
        "description": "Remoteness and rurality of each district's populated places.",
        "file": None,
    },
]


def _reference_bytes(spec: dict, source_dir) -> tuple[str, bytes]:
    if spec["slug"] == "geografia-centros-poblados":
        rows = District.objects.values_list(
            "ubigeo",
            "places_count",
            "places_urban",
            "places_rural_share",
            "places_mean_distance_km",
            "places_max_distance_km",
        )
        frame = pd.DataFrame(
            list(rows),
            columns=[
                "ubigeo",
                "places_count",
                "places_urban",
                "places_rural_share",
                "places_mean_distance_km",
                "places_max_distance_km",
            ],
        )
        return "geografia_centros_poblados.csv", frame.to_csv(index=False).encode()
    path = resolve(source_dir, spec["file"])
    name = path.name.removesuffix(".gz")
    if spec["slug"] == "indicadores-socioeconomicos":
        master = read_csv(path)
        fixed = master["inei"].isin(["", "NA"]) & master["reniec"].isin(INEI_CODE_FIXES)
        master.loc[fixed, "inei"] = master.loc[fixed, "reniec"].map(INEI_CODE_FIXES)
        buffer = io.StringIO()
        master[["inei", *MASTER_COLUMNS]].to_csv(buffer, index=False)
        return "indicadores_socioeconomicos.csv", buffer.getvalue().encode()
    return name, read_bytes(path)


def reference_datasets_load(*, source_dir, log=print) -> list[DatasetVersion]:
    versions = []
    for spec in REFERENCE_DATASETS:
        dataset, _created = Dataset.objects.get_or_create(
            slug=spec["slug"],
            defaults={k: spec[k] for k in ("name", "kind", "percent_columns", "source", "description")},
        )
        name, content = _reference_bytes(spec, source_dir)
        sha = hashlib.sha256(content).hexdigest()
        # These bytes may already be a version, and not the latest one when analysts uploaded newer versions since:
        # then the shipped version stays what the default feature table reads, and nothing is registered again.
        shipped = dataset.versions.filter(upload__sha256=sha).order_by("-number").first()
        if shipped is not None:
            versions.append(shipped)
            continue
        upload = upload_register(
            user=None,
            dataset=dataset,
            file=ContentFile(content, name=name),
            name=name,
            drop_invalid_rows=True,
            enqueue=False,
            note="Reference data shipped with the platform; rows whose ubigeo the registry lacks are dropped.",
        )
        job = job_run(job_id=upload.job_id, handler=lambda job, progress: dataset_ingest(job=job, progress=progress))
        if job.status != "succeeded":
            raise RuntimeError(f"{dataset.slug}: {job.failure_reason}")
        upload.refresh_from_db()
        version = upload.version
        dropped = f", {version.dropped_rows} dropped ({_dropped_codes(upload)})" if version.dropped_rows else ""
        log(f"dataset {dataset.slug} v{version.number}: {version.row_count} rows{dropped}")
        versions.append(version)
    return versions


def _dropped_codes(upload) -> str:
    return "; ".join(f"{e['column']} {e['value']}: {e['code']}" for e in upload.errors[:5])
