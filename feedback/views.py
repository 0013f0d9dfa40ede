from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import analyst_required
from core.exceptions import ApplicationError
from datasets.models import District
from feedback.forms import FeedbackForm
from feedback.models import Feedback, Label, LabelSet
from feedback.services.experiments import experiment_create, experiment_refresh, experiments_for_user
from feedback.services.retraining import retrain_request
from feedback.services.submission import feedback_for_user, feedback_submit, feedback_triage, label_set_publish
from predictions.models import Prediction
from predictions.services.runs import latest_champion_run
from recommendations.models import Recommendation
from recommendations.services.plans import plans_for_user
from recommendations.services.review import recommendations_for_user

OPEN_FIRST = Case(
    When(status__in=[Feedback.Status.NEW, Feedback.Status.NEEDS_INFO], then=Value(0)),
    default=Value(1),
    output_field=IntegerField(),
)


def _errors(exc) -> str:
    return getattr(exc, "message", None) or " ".join(getattr(exc, "messages", [str(exc)]))


@login_required
def feedback_home(request):
    """Authors: their district's predictions and recommendations, and their feedback with its answers.
    Analysts: the triage queue."""
    items = (
        feedback_for_user(request.user)
        .select_related("author")
        .annotate(open=OPEN_FIRST)
        .order_by("open", "-created_at")
    )
    status = request.GET.get("status", "")
    if status:
        items = items.filter(status=status)
    page = Paginator(items, 40).get_page(request.GET.get("page"))
    run = latest_champion_run()
    mine = {"predictions": [], "recommendations": []}
    if request.user.is_school_staff or request.user.is_policy_maker:
        if run:
            mine["predictions"] = list(
                Prediction.objects.filter(run=run).filter(request.user.ubigeo_q("ubigeo")).order_by("rank")[:30]
            )
        mine["recommendations"] = list(recommendations_for_user(request.user).select_related("intervention")[:30])
        names = dict(
            District.objects.filter(
                ubigeo__in=[p.ubigeo for p in mine["predictions"]] + [r.ubigeo for r in mine["recommendations"]]
            ).values_list("ubigeo", "name")
        )
        for item in mine["predictions"] + mine["recommendations"]:
            item.name = names.get(item.ubigeo, item.ubigeo)
    return render(
        request,
        "feedback/home.html",
        {
            "page": page,
            "mine": mine,
            "statuses": Feedback.Status.choices,
            "status": status,
            "pending_labels": Label.objects.filter(label_set__isnull=True).count() if request.user.can_analyse else 0,
        },
    )


@login_required
def feedback_new(request):
    prediction = recommendation = None
    if request.GET.get("prediction") or request.POST.get("prediction"):
        prediction = get_object_or_404(Prediction, pk=request.GET.get("prediction") or request.POST.get("prediction"))
        ubigeo, subject = prediction.ubigeo, Feedback.Subject.PREDICTION
    elif request.GET.get("recommendation") or request.POST.get("recommendation"):
        recommendation = get_object_or_404(
            Recommendation, pk=request.GET.get("recommendation") or request.POST.get("recommendation")
        )
        ubigeo, subject = recommendation.ubigeo, Feedback.Subject.RECOMMENDATION
    else:
        raise Http404
    if not request.user.can_access_ubigeo(ubigeo):
        raise Http404
    form = FeedbackForm(request.POST or None, subject=subject)
    if request.method == "POST" and form.is_valid():
        try:
            feedback_submit(
                user=request.user,
                ubigeo=ubigeo,
                subject=subject,
                prediction=prediction.pk if prediction else None,
                recommendation=recommendation.pk if recommendation else None,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except (ApplicationError, PermissionDenied) as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, _("Thank you: your feedback was sent to the analysts."))
            return redirect("feedback:home")
    district = District.objects.filter(ubigeo=ubigeo).first()
    return render(
        request,
        "feedback/new.html",
        {"form": form, "prediction": prediction, "recommendation": recommendation, "district": district},
    )


@analyst_required
def feedback_triage_page(request, pk):
    feedback = get_object_or_404(feedback_for_user(request.user), pk=pk)
    if request.method == "POST":
        try:
            feedback_triage(
                user=request.user,
                feedback=feedback,
                decision=request.POST.get("decision", ""),
                reason=request.POST.get("reason", ""),
            )
        except (ValidationError, ApplicationError) as exc:
            messages.error(request, _errors(exc))
        else:
            messages.success(request, _("Decision saved."))
    return redirect("feedback:home")


@analyst_required
def labels(request):
    if request.method == "POST":
        try:
            if request.POST.get("action") == "retrain":
                job = retrain_request(user=request.user, reason=f"requested by {request.user.username}")
                messages.success(request, _("Retraining job #%(id)s.") % {"id": job.pk})
            else:
                label_set = label_set_publish(
                    user=request.user,
                    target=request.POST.get("target") or "disparity_ece18_4p",
                    note=request.POST.get("note", ""),
                )
                messages.success(request, _("Label set %(n)s published.") % {"n": label_set.number})
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("feedback:labels")
    return render(
        request,
        "feedback/labels.html",
        {
            "label_sets": LabelSet.objects.all(),
            "pending": Label.objects.filter(label_set__isnull=True)
            .filter(request.user.ubigeo_q("ubigeo"))
            .select_related("feedback")[:200],
        },
    )


@login_required
def experiment_list(request):
    if not (request.user.can_analyse or request.user.is_policy_maker):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.can_analyse:
            raise PermissionDenied
        plan = get_object_or_404(plans_for_user(request.user), pk=request.POST.get("plan") or 0)
        try:
            seed = int(request.POST["seed"]) if request.POST.get("seed") else None
            effect = float(request.POST["effect"]) if request.POST.get("effect") else 2.0
            experiment = experiment_create(
                user=request.user,
                name=request.POST.get("name") or plan.name,
                plan=plan,
                seed=seed,
                outcome_dataset=request.POST.get("outcome_dataset", ""),
                outcome_column=request.POST.get("outcome_column", ""),
                effect=effect,
            )
        except (ApplicationError, ValueError) as exc:
            messages.error(request, _errors(exc))
        else:
            return redirect("feedback:experiment_detail", pk=experiment.pk)
    return render(
        request,
        "feedback/experiments.html",
        {
            "experiments": experiments_for_user(request.user).select_related("plan"),
            "plans": plans_for_user(request.user).filter(job__status="succeeded")[:30],
        },
    )


@login_required
def experiment_detail(request, pk):
    experiment = get_object_or_404(experiments_for_user(request.user), pk=pk)
    if request.method == "POST":
        if not request.user.can_analyse:
            raise PermissionDenied
        experiment_refresh(experiment)
        return redirect("feedback:experiment_detail", pk=experiment.pk)
    assignments = experiment.assignments.filter(request.user.ubigeo_q("ubigeo"))
    return render(request, "feedback/experiment_detail.html", {"experiment": experiment, "assignments": assignments})
