"""Rows behind the platform metrics, made with the ORM: a champion model with its run, predictions, a drift report,
recommendations under review and feedback. Training a real model would take minutes and is tested elsewhere;
these tests need only the rows a trained model leaves."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import NATIONAL, Role
from datasets.models import District, FeatureSnapshot
from feedback.models import Feedback
from jobs.models import Job
from predictions.models import DriftReport, ModelVersion, Prediction, PredictionRun
from recommendations.models import Intervention, Plan, Recommendation
from tests.factories import UserFactory

TARGET = "disparity_ece18_4p"
GROUPED_CV = {"r2": 0.42, "mae": 5.1, "rmse": 6.8, "n": 1200, "interval_coverage": 0.91, "interval_mean_width": 21.5}
PSI = {"pobreza_total": 0.31, "altitud": 0.04, "pct_rural": 0.12}
_counter = itertools.count()


def districts(departments: list[str], per_department: int, offset: int = 0) -> list[str]:
    """`per_department` district ubigeos of each department, skipping the first `offset`."""
    chosen = []
    for department in departments:
        codes = District.objects.filter(ubigeo__startswith=department).order_by("ubigeo")
        chosen += list(codes.values_list("ubigeo", flat=True)[offset : offset + per_department])
    return chosen


def users(n: int, prefix: str = "user") -> list:
    return [
        UserFactory(username=f"{prefix}{next(_counter)}", role=Role.SCHOOL_STAFF, region=NATIONAL) for _ in range(n)
    ]


def snapshot() -> FeatureSnapshot:
    return FeatureSnapshot.objects.create(
        name="Línea base",
        spec=[],
        lineage=[],
        columns=["pobreza_total"],
        data={"index": [], "rows": []},
        row_count=0,
        sha256="0" * 64,
    )


def champion(
    *,
    target: str = TARGET,
    grouped_cv: dict | None = None,
    algorithm: str = "ridge",
    status: str = "champion",
    features: list[str] | None = None,
) -> ModelVersion:
    return ModelVersion.objects.create(
        algorithm=algorithm,
        target=target,
        snapshot=snapshot(),
        status=status,
        features=features or [],
        metrics={"grouped_cv": GROUPED_CV if grouped_cv is None else grouped_cv},
        artifact="unused.pt",
        sha256="1" * 64,
        code_version="test",
    )


def prediction_run(
    model: ModelVersion, ubigeos: list[str], *, flag_every: int = 3, base: float = 40.0
) -> PredictionRun:
    job = Job.objects.create(
        kind=Job.Kind.PREDICTION_RUN,
        status=Job.Status.SUCCEEDED,
        started_at=timezone.now() - timedelta(seconds=30),
        finished_at=timezone.now(),
        progress=100,
    )
    run = PredictionRun.objects.create(model=model, snapshot=model.snapshot, job=job)
    Prediction.objects.bulk_create(
        Prediction(
            run=run,
            ubigeo=ubigeo,
            value=base + i % 20,
            lower=base - 10,
            upper=base + 30,
            rank=i + 1,
            flagged=i % flag_every == 0,
        )
        for i, ubigeo in enumerate(ubigeos)
    )
    return run


def drift(model: ModelVersion, psi: dict | None = None, shift: float = 0.04) -> DriftReport:
    values = PSI if psi is None else psi
    return DriftReport.objects.create(
        model=model,
        snapshot=model.snapshot,
        psi=values,
        max_psi=max(v for v in values.values() if isinstance(v, float)),
        prediction_shift={"psi": shift, "mean_before": 50.0, "mean_after": 51.0},
    )


def recommendations(ubigeos: list[str], statuses: list[str], plan: Plan | None = None) -> list[Recommendation]:
    plan = plan or Plan.objects.create(name="Plan de prueba", budget_pen=Decimal("1000000"), scope="PE")
    intervention, _ = Intervention.objects.get_or_create(
        code="internet-test",
        defaults={"name": "Internet", "intervention_type": Intervention.Type.INTERNET, "source": "test"},
    )
    return Recommendation.objects.bulk_create(
        Recommendation(
            plan=plan,
            ubigeo=ubigeo,
            department=ubigeo[:2],
            intervention=intervention,
            cost_pen=Decimal("1000"),
            impact=3.0,
            impact_lower=1.0,
            impact_upper=5.0,
            disparity_before=40.0,
            disparity_after=37.0,
            children=120,
            status=status,
        )
        for ubigeo, status in zip(ubigeos, itertools.cycle(statuses), strict=False)
    )


def feedback(authors: list, ubigeos: list[str], statuses: list[str]) -> list[Feedback]:
    return Feedback.objects.bulk_create(
        Feedback(
            author=author,
            author_role=author.role,
            ubigeo=ubigeo,
            subject=Feedback.Subject.PREDICTION,
            comment=f"Comentario libre de {author.username} sobre {ubigeo}",
            status=status,
            day=date.today(),
        )
        for author, ubigeo, status in zip(authors, ubigeos, itertools.cycle(statuses), strict=False)
    )


def jobs(authors: list, per_kind_status: int = 1) -> list[Job]:
    now = timezone.now()
    rows = []
    for author, (kind, status) in zip(
        itertools.cycle(authors), itertools.product(Job.Kind.values, Job.Status.values * per_kind_status), strict=False
    ):
        ended = status in Job.ENDED
        rows.append(
            Job(
                kind=kind,
                status=status,
                created_by=author,
                scope=author.region,
                message=f"trabajo de {author}",
                started_at=now - timedelta(seconds=90) if status != Job.Status.QUEUED else None,
                finished_at=now if ended else None,
                heartbeat_at=now,
            )
        )
    return Job.objects.bulk_create(rows)
