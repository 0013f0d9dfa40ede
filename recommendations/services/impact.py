"""What each intervention would change in each district, as estimated by the champion model.

For an intervention with feature effects, the model predicts every eligible district again with the features
changed (e.g. internet raised to at least 60%); the drop in predicted disparity (points of the share of children
below the satisfactory level) times the children affected, divided by 100, is the impact: the expected number of
children who would reach the satisfactory level. Its interval is the range of that drop across the models the
champion combines, widened to include the champion's own drop (a single-model champion has no such spread, so
its interval is the point itself). This is the model's estimate of an
association in district-level data, not a proven causal effect; pages say so.

Where no feature captures an intervention, the catalogue's stated assumed effect is used instead, marked as such.
"""

import math

import numpy as np
import pandas as pd

from accounts.models import region_codes
from datasets.models import District
from recommendations import optimise
from recommendations.models import Intervention, Plan

PERSONS_PER_HOUSEHOLD = 3.5
SCHOOL_AGE_SHARE = 0.19
SECONDARY_SHARE_OF_SCHOOL_AGE = 0.4
COVERAGE_FEATURES = {"agua", "desague", "electricidad", "internet"}


def apply_effects(table: pd.DataFrame, effects: list[dict]) -> pd.DataFrame:
    changed = table.copy()
    for effect in effects:
        column, op, value = effect["feature"], effect["op"], float(effect["value"])
        if column not in changed.columns:
            continue
        current = changed[column]
        if op == "at_least":
            changed[column] = np.maximum(current, value).where(current.notna(), value)
        elif op == "add":
            changed[column] = (current + value).clip(upper=100 if column in COVERAGE_FEATURES else None)
        elif op == "multiply":
            changed[column] = current * value
        elif op == "set":
            changed[column] = value
    return changed


def eligible(table: pd.DataFrame, rules: list[dict]) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for rule in rules:
        column = table.get(rule["feature"])
        if column is None:
            return pd.Series(False, index=table.index)
        value = float(rule["value"])
        mask &= {"lt": column < value, "lte": column <= value, "gt": column > value, "gte": column >= value}[
            rule["op"]
        ].fillna(False)
    return mask


def beneficiaries(table: pd.DataFrame, kind: str) -> pd.Series:
    population = table.get("pob", pd.Series(np.nan, index=table.index)).fillna(0)
    children = population * SCHOOL_AGE_SHARE
    rural = table.get("places_rural_share", pd.Series(100.0, index=table.index)).fillna(100.0) / 100
    if kind == "rural_children":
        children = children * rural
    elif kind == "secondary_rural":
        children = children * rural * SECONDARY_SHARE_OF_SCHOOL_AGE
    return children.round().astype(int)


def cost(intervention: Intervention, table: pd.DataFrame, students: pd.Series) -> pd.Series:
    households = table.get("pob", pd.Series(0.0, index=table.index)).fillna(0) / PERSONS_PER_HOUSEHOLD
    lacking = pd.Series(0.0, index=table.index)
    for effect in intervention.effects:
        if effect["feature"] in COVERAGE_FEATURES and effect["op"] in {"at_least", "add"}:
            current = table.get(effect["feature"], pd.Series(0.0, index=table.index)).fillna(0)
            goal = float(effect["value"]) if effect["op"] == "at_least" else current + float(effect["value"])
            lacking = np.maximum(lacking, (np.minimum(goal, 100) - current).clip(lower=0) / 100)
    reached = households * (lacking if intervention.effects else 1.0)
    return (
        float(intervention.cost_fixed_pen)
        + float(intervention.cost_per_household_pen) * reached
        + float(intervention.cost_per_student_pen) * students
    )


def equity_weights(table: pd.DataFrame, equity: str, strength: float) -> pd.Series:
    """1 + strength × (the district's poverty or indigenous-language share, 0–1)."""
    column = {"poverty": "pct_pobreza_total", "indigenous": "indigenous_language_pct"}.get(equity)
    if not column or column not in table:
        return pd.Series(1.0, index=table.index)
    return 1.0 + strength * table[column].fillna(0).clip(0, 100) / 100


def plan_candidates(*, plan: Plan, progress) -> tuple[list[optimise.Candidate], dict]:
    from predictions.services.models import value_and_member_predictions

    run = plan.run
    table = run.snapshot.to_frame()
    scope = region_codes(plan.scope)
    in_scope = (
        table.index.to_series().str.startswith(tuple(scope)) if scope != [""] else pd.Series(True, index=table.index)
    )
    table = table[in_scope.to_numpy()]
    predictions = {
        p["ubigeo"]: p
        for p in run.predictions.filter(ubigeo__in=list(table.index)).values(
            "ubigeo", "value", "lower", "upper", "flagged", "factors"
        )
    }
    table = table.loc[[u for u in table.index if u in predictions]]
    names = dict(District.objects.filter(ubigeo__in=list(table.index)).values_list("ubigeo", "name"))
    c = plan.constraints
    weights = equity_weights(table, c.get("equity", ""), c.get("equity_strength", 1.0))
    wanted = set(c.get("interventions") or [])
    include_assumed = c.get("include_assumed", False)

    def weighed(intervention) -> bool:
        if wanted:  # named by the analyst: weighed whatever its kind of estimate
            return intervention.code in wanted
        return bool(intervention.effects) or include_assumed

    interventions = [i for i in Intervention.objects.filter(active=True) if weighed(i)]
    modelled = any(i.effects for i in interventions)
    base, base_members = value_and_member_predictions(run.model, table) if modelled else (None, None)

    candidates, details = [], {}
    for position, intervention in enumerate(interventions):
        mask = eligible(table, intervention.eligibility)
        subset = table[mask.to_numpy()]
        if subset.empty:
            continue
        students = beneficiaries(subset, intervention.beneficiaries)
        costs = cost(intervention, subset, students)
        if intervention.effects:
            after, after_members = value_and_member_predictions(run.model, apply_effects(subset, intervention.effects))
            drop = base.loc[subset.index] - after  # the champion's own estimate
            drops = base_members.loc[subset.index] - after_members  # one column per member
            low, high = np.minimum(drops.min(axis=1), drop), np.maximum(drops.max(axis=1), drop)
            estimate = "model"
        else:
            effect = float(intervention.assumed_effect_pp or 0)
            low_pp, high_pp = (intervention.assumed_effect_range or [effect, effect])[:2]
            drop = pd.Series(effect, index=subset.index)
            low, high = pd.Series(float(low_pp), index=subset.index), pd.Series(float(high_pp), index=subset.index)
            estimate = "assumed"
        for ubigeo in subset.index:
            points = float(drop[ubigeo])
            children = int(students[ubigeo])
            if not math.isfinite(points) or points <= 0 or children <= 0:
                continue
            before = float(predictions[ubigeo]["value"])
            key = len(details)
            impact = points * children / 100
            candidates.append(
                optimise.Candidate(
                    key=key,
                    district=ubigeo,
                    department=ubigeo[:2],
                    intervention=intervention.code,
                    intervention_type=intervention.intervention_type,
                    cost=float(costs[ubigeo]),
                    impact=impact,
                    disparity=before,
                    children=children,
                    flagged=bool(predictions[ubigeo]["flagged"]),
                    equity_weight=float(weights[ubigeo]),
                )
            )
            details[key] = {
                "ubigeo": ubigeo,
                "department": ubigeo[:2],
                "intervention": intervention,
                "cost_pen": round(float(costs[ubigeo]), 2),
                "impact": impact,
                "impact_lower": max(0.0, float(low[ubigeo])) * children / 100,
                "impact_upper": max(0.0, float(high[ubigeo])) * children / 100,
                "disparity_before": before,
                "disparity_after": before - points,
                "children": children,
                "estimate": estimate,
                "rationale": _rationale(
                    intervention, subset.loc[ubigeo], predictions[ubigeo], points, names.get(ubigeo, ubigeo)
                ),
            }
        progress(100 * (position + 1) / len(interventions), intervention.name)
    return candidates, details


def _rationale(intervention: Intervention, row: pd.Series, prediction: dict, points: float, name: str) -> dict:
    gaps = []
    for effect in intervention.effects:
        current = row.get(effect["feature"])
        if current is not None and not (isinstance(current, float) and math.isnan(current)):
            new = apply_effects(row.to_frame().T, [effect]).iloc[0][effect["feature"]]
            gaps.append({"feature": effect["feature"], "from": round(float(current), 2), "to": round(float(new), 2)})
    return {
        "district": name,
        "top_factors": prediction["factors"][:3],
        "gaps": gaps,
        "drop_points": round(points, 2),
        "interval": [round(prediction["lower"], 1), round(prediction["upper"], 1)],
    }
