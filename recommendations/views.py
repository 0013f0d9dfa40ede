from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import region_codes
from accounts.permissions import administrator_required
from core.exceptions import ApplicationError
from datasets.models import Department, District
from predictions.views import choropleth
from recommendations.forms import InterventionForm, PlanForm
from recommendations.models import Intervention, Recommendation
from recommendations.services.plans import plan_request, plan_summary_for_user, plans_for_user
from recommendations.services.review import (
    ACTIONS,
    actions_for,
    recommendation_can_see,
    recommendation_transition,
    recommendations_for_user,
)

PENDING_FIRST = Case(
    When(status=Recommendation.Status.SUBMITTED, then=Value(0)), default=Value(1), output_field=IntegerField()
)


@login_required
def plan_list(request):
    if request.user.is_school_staff:
        raise PermissionDenied
    form = PlanForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if not request.user.can_analyse:
            raise PermissionDenied
        if form.is_valid():
            try:
                plan = plan_request(user=request.user, **form.plan_fields())
            except (ValidationError, ApplicationError, PermissionDenied) as exc:
                form.add_error(None, getattr(exc, "message", None) or " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                return redirect("recommendations:plan_detail", pk=plan.pk)
    plans = Paginator(plans_for_user(request.user).select_related("job", "created_by"), 30).get_page(
        request.GET.get("page")
    )
    return render(request, "recommendations/plan_list.html", {"page": plans, "form": form})


SOLVER_STATUS = {
    "optimal": gettext_lazy("proven optimal"),
    "within_gap": gettext_lazy("proven optimal within the configured gap"),
    "time_limit": gettext_lazy("best plan found within the time limit"),
    "heuristic": gettext_lazy("heuristic"),
}


def constraints_described(constraints: dict, departments: dict) -> list[str]:
    """The plan's constraints as sentences a reviewer reads, in the page's language."""
    lines = []
    if constraints.get("max_per_district"):
        lines.append(
            ngettext(
                "At most %(n)d intervention per district",
                "At most %(n)d interventions per district",
                constraints["max_per_district"],
            )
            % {"n": constraints["max_per_district"]}
        )
    if constraints.get("one_per_type_per_district"):
        lines.append(_("At most one intervention of each type per district"))
    if constraints.get("only_flagged"):
        lines.append(_("Only districts flagged as significant disparity"))
    if constraints.get("equity"):
        kind = dict(PlanForm.base_fields["equity"].choices).get(constraints["equity"], "")
        lines.append(
            _("Equity weight: %(kind)s, strength %(s)s") % {"kind": kind, "s": constraints.get("equity_strength")}
        )
    for code, share in (constraints.get("min_department_share") or {}).items():
        lines.append(
            _("At least %(pct)s%% of the budget in %(name)s")
            % {"pct": f"{100 * share:g}", "name": departments.get(code, code)}
        )
    if constraints.get("interventions"):
        lines.append(_("Only these interventions: %(codes)s") % {"codes": ", ".join(constraints["interventions"])})
    elif constraints.get("include_assumed"):
        lines.append(_("Interventions with an assumed effect included"))
    else:
        lines.append(_("Only interventions whose effect the model estimates"))
    return lines


@login_required
def plan_detail(request, pk):
    if request.user.is_school_staff:
        raise PermissionDenied
    plan = get_object_or_404(plans_for_user(request.user).select_related("job", "run__model"), pk=pk)
    recommendations = list(recommendations_for_user(request.user).filter(plan=plan).select_related("intervention"))
    if request.method == "POST" and request.POST.get("action") == "submit_all":
        submitted = 0
        for recommendation in recommendations:
            if "submit" in actions_for(request.user, recommendation):
                try:
                    recommendation_transition(
                        user=request.user,
                        recommendation=recommendation,
                        action="submit",
                        comment=request.POST.get("comment", ""),
                    )
                    submitted += 1
                except (ApplicationError, PermissionDenied, Http404):
                    continue
        messages.success(
            request,
            ngettext(
                "%(n)d recommendation submitted for review.", "%(n)d recommendations submitted for review.", submitted
            )
            % {"n": submitted},
        )
        return redirect("recommendations:plan_detail", pk=plan.pk)
    names = dict(District.objects.filter(ubigeo__in=[r.ubigeo for r in recommendations]).values_list("ubigeo", "name"))
    for recommendation in recommendations:
        recommendation.name = names.get(recommendation.ubigeo, recommendation.ubigeo)
    departments = dict(Department.objects.values_list("code", "name"))
    summary = plan_summary_for_user(plan, request.user)
    comparison = []
    for code in sorted(
        set(summary.get("optimised", {}).get("departments", {}))
        | set(summary.get("baseline", {}).get("departments", {}))
    ):
        comparison.append(
            {
                "code": code,
                "name": departments.get(code, code),
                "optimised": summary["optimised"]["departments"].get(code, {}),
                "baseline": summary["baseline"]["departments"].get(code, {}),
            }
        )
    impact = {}
    for r in recommendations:
        impact[r.ubigeo] = impact.get(r.ubigeo, 0) + r.impact
    labels = {r.ubigeo: f"{r.intervention.name}: {r.impact:.0f}" for r in recommendations}
    optimised = summary.get("optimised", {})
    return render(
        request,
        "recommendations/plan_detail.html",
        {
            "plan": plan,
            "constraints": constraints_described(plan.constraints or {}, departments),
            "solver_status": SOLVER_STATUS.get(optimised.get("status"), optimised.get("status", "")),
            "recommendations": recommendations,
            "comparison": comparison,
            "summary": summary,
            "map": choropleth(request.user, impact, labels, area=region_codes(plan.scope)) if impact else None,
            "can_submit": any("submit" in actions_for(request.user, r) for r in recommendations),
        },
    )


@login_required
def review_queue(request):
    """Pending first; filters by status, department and intervention."""
    queryset = recommendations_for_user(request.user).select_related("intervention", "plan")
    status = request.GET.get("status", "")
    department = request.GET.get("department", "")
    intervention = request.GET.get("intervention", "")
    if status:
        queryset = queryset.filter(status=status)
    if department:
        queryset = queryset.filter(department=department)
    if intervention:
        queryset = queryset.filter(intervention__code=intervention)
    page = Paginator(queryset.annotate(pending=PENDING_FIRST).order_by("pending", "-impact"), 50).get_page(
        request.GET.get("page")
    )
    names = dict(District.objects.filter(ubigeo__in=[r.ubigeo for r in page]).values_list("ubigeo", "name"))
    for recommendation in page:
        recommendation.name = names.get(recommendation.ubigeo, recommendation.ubigeo)
    return render(
        request,
        "recommendations/review_queue.html",
        {
            "page": page,
            "statuses": Recommendation.Status.choices,
            "interventions": Intervention.objects.all(),
            "departments": Department.objects.filter(code__in={c[:2] for c in request.user.region_codes if c})
            if request.user.region_codes != [""]
            else Department.objects.all(),
            "filters": {"status": status, "department": department, "intervention": intervention},
        },
    )


@login_required
def recommendation_detail(request, pk):
    recommendation = get_object_or_404(Recommendation.objects.select_related("intervention", "plan"), pk=pk)
    if not recommendation_can_see(request.user, recommendation):
        raise Http404
    if request.method == "POST":
        try:
            recommendation_transition(
                user=request.user,
                recommendation=recommendation,
                action=request.POST.get("action", ""),
                comment=request.POST.get("comment", ""),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Done: the recommendation is now %(status)s.") % {"status": recommendation.get_status_display()},
            )
        return redirect("recommendations:recommendation_detail", pk=recommendation.pk)
    from feedback.services.experiments import experiment_arms_of

    district = District.objects.filter(ubigeo=recommendation.ubigeo).first()
    return render(
        request,
        "recommendations/recommendation_detail.html",
        {
            "recommendation": recommendation,
            "district": district,
            "experiment_arms": experiment_arms_of(recommendation),
            "transitions": recommendation.transitions.all(),
            "actions": [(name, ACTIONS[name].label) for name in actions_for(request.user, recommendation)],
        },
    )


@login_required
def intervention_list(request):
    return render(request, "recommendations/intervention_list.html", {"interventions": Intervention.objects.all()})


@administrator_required
def intervention_edit(request, pk=None):
    intervention = get_object_or_404(Intervention, pk=pk) if pk else None
    form = InterventionForm(request.POST or None, instance=intervention)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        from accounts.services import audit_record

        audit_record(
            actor=request.user,
            action="intervention.update" if pk else "intervention.create",
            target=saved,
            changes={f: str(form.cleaned_data[f]) for f in form.changed_data},
        )
        messages.success(request, _("Saved."))
        return redirect("recommendations:intervention_list")
    return render(request, "recommendations/intervention_form.html", {"form": form, "intervention": intervention})
