from rest_framework import serializers

from jobs.serializers import JobSerializer
from recommendations.models import Intervention, Plan, Recommendation, Transition
from recommendations.services.review import ACTIONS, COMMENT_MAX


class InterventionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Intervention
        fields = ["id", *Intervention.EDITABLE_FIELDS, "updated_at"]
        read_only_fields = ["id", "updated_at"]

    def validate_effects(self, effects):
        for effect in effects:
            if (
                not isinstance(effect, dict)
                or set(effect) != {"feature", "op", "value"}
                or effect["op"] not in {"at_least", "add", "multiply", "set"}
            ):
                raise serializers.ValidationError("Each effect is {feature, op (at_least|add|multiply|set), value}.")
        return effects

    def validate_eligibility(self, rules):
        for rule in rules:
            if (
                not isinstance(rule, dict)
                or set(rule) != {"feature", "op", "value"}
                or rule["op"] not in {"lt", "lte", "gt", "gte"}
            ):
                raise serializers.ValidationError("Each rule is {feature, op (lt|lte|gt|gte), value}.")
        return rules

    def validate(self, data):
        effects = data.get("effects", getattr(self.instance, "effects", []))
        assumed = data.get("assumed_effect_pp", getattr(self.instance, "assumed_effect_pp", None))
        if not effects and assumed is None:
            raise serializers.ValidationError("An intervention needs feature effects or an assumed effect.")
        return data


class TransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Transition
        fields = ["id", "actor_username", "actor_role", "action", "from_status", "to_status", "comment", "created_at"]


class RecommendationSerializer(serializers.ModelSerializer):
    intervention = serializers.SlugRelatedField(slug_field="code", read_only=True)
    intervention_name = serializers.CharField(source="intervention.name", read_only=True)
    intervention_type = serializers.CharField(source="intervention.intervention_type", read_only=True)

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "plan",
            "ubigeo",
            "department",
            "intervention",
            "intervention_name",
            "intervention_type",
            "cost_pen",
            "impact",
            "impact_lower",
            "impact_upper",
            "disparity_before",
            "disparity_after",
            "children",
            "estimate",
            "rationale",
            "status",
            "updated_at",
        ]
        read_only_fields = fields


class RecommendationDetailSerializer(RecommendationSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField()

    class Meta(RecommendationSerializer.Meta):
        fields = [*RecommendationSerializer.Meta.fields, "transitions", "actions"]
        read_only_fields = fields

    def get_actions(self, recommendation) -> list[str]:
        from recommendations.services.review import actions_for

        request = self.context.get("request")
        return actions_for(request.user, recommendation) if request else []


class TransitionInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=sorted(ACTIONS))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX, default="")


class PlanInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    budget_pen = serializers.DecimalField(max_digits=16, decimal_places=2)
    scope = serializers.CharField(max_length=700, default="PE")
    constraints = serializers.JSONField(
        required=False,
        default=dict,
        help_text=(
            "max_per_district (int|null, default 1), one_per_type_per_district (bool), min_department_share "
            "({dept: fraction of the budget}), only_flagged (bool), equity ('', 'poverty', 'indigenous'), "
            "equity_strength (0-5), interventions ([codes])"
        ),
    )
    run = serializers.IntegerField(required=False, help_text="prediction run; default: the champion's latest")


class PlanSerializer(serializers.ModelSerializer):
    job = JobSerializer(read_only=True)
    status = serializers.CharField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    recommendations_count = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "budget_pen",
            "scope",
            "constraints",
            "run",
            "status",
            "job",
            "objective",
            "baseline_objective",
            "summary",
            "recommendations_count",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def _user(self):
        request = self.context.get("request")
        return request.user if request else self.context.get("user")

    def get_recommendations_count(self, plan) -> int:
        from recommendations.services.review import recommendations_for_user

        user = self._user()
        return recommendations_for_user(user).filter(plan=plan).count() if user else plan.recommendations.count()

    def get_summary(self, plan) -> dict:
        from recommendations.services.plans import plan_summary_for_user

        user = self._user()
        return plan_summary_for_user(plan, user) if user else plan.summary


class PlanDetailSerializer(PlanSerializer):
    recommendations = serializers.SerializerMethodField()

    class Meta(PlanSerializer.Meta):
        fields = [*PlanSerializer.Meta.fields, "recommendations"]
        read_only_fields = fields

    def get_recommendations(self, plan) -> list[dict]:
        visible = self.context["recommendations"]
        return RecommendationSerializer(visible, many=True).data
