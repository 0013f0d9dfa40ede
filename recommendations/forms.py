from django import forms
from django.utils.translation import gettext_lazy as _

from recommendations.models import Intervention


class PlanForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    budget_pen = forms.DecimalField(label=_("Budget (S/)"), max_digits=16, decimal_places=2)
    scope = forms.CharField(
        label=_("Scope"),
        max_length=700,
        help_text=_("PE (national), a department (08), a province (0801) or districts"),
    )
    max_per_district = forms.IntegerField(
        label=_("At most this many interventions per district"),
        required=False,
        min_value=1,
        initial=1,
        help_text=_("Empty: no limit"),
    )
    one_per_type_per_district = forms.BooleanField(
        label=_("At most one intervention of each type per district"), required=False, initial=True
    )
    only_flagged = forms.BooleanField(label=_("Only districts flagged as significant disparity"), required=False)
    include_assumed = forms.BooleanField(
        label=_("Also weigh interventions with an assumed effect"),
        required=False,
        help_text=_(
            "Classrooms and teacher coaching change no variable the model has: their effect is a stated assumption, "
            "not the model's estimate."
        ),
    )
    equity = forms.ChoiceField(
        label=_("Equity weight"),
        required=False,
        choices=[("", _("None")), ("poverty", _("Poverty")), ("indigenous", _("Indigenous mother tongue"))],
    )
    equity_strength = forms.FloatField(
        label=_("Equity strength"), required=False, initial=1.0, min_value=0, max_value=5
    )
    min_department_share = forms.CharField(
        label=_("Minimum share of the budget per department"),
        required=False,
        help_text=_("e.g. 08:0.10, 21:0.05 (department code: fraction of the budget)"),
    )
    interventions = forms.MultipleChoiceField(
        label=_("Interventions"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every active intervention"),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None and not self.is_bound:
            self.initial["scope"] = user.effective_region
        self.fields["interventions"].choices = [(i.code, i.name) for i in Intervention.objects.filter(active=True)]

    def clean_min_department_share(self):
        shares = {}
        for part in filter(None, (p.strip() for p in self.cleaned_data["min_department_share"].split(","))):
            code, _sep, value = part.partition(":")
            try:
                shares[code.strip()] = float(value)
            except ValueError:
                raise forms.ValidationError(_("Write each share as code:fraction, e.g. 08:0.10."))
        return shares

    def plan_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "budget_pen": data["budget_pen"],
            "scope": data["scope"],
            "constraints": {
                "max_per_district": data["max_per_district"],
                "one_per_type_per_district": data["one_per_type_per_district"],
                "only_flagged": data["only_flagged"],
                "include_assumed": data["include_assumed"],
                "equity": data["equity"],
                "equity_strength": data["equity_strength"] if data["equity_strength"] is not None else 1.0,
                "min_department_share": data["min_department_share"],
                "interventions": data["interventions"],
            },
        }


class InterventionForm(forms.ModelForm):
    class Meta:
        model = Intervention
        fields = Intervention.EDITABLE_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 2}), "source": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        data = super().clean()
        from recommendations.serializers import InterventionSerializer

        serializer = InterventionSerializer(
            instance=self.instance if self.instance.pk else None,
            data={k: v for k, v in data.items() if k in {"effects", "eligibility", "assumed_effect_pp"}},
            partial=True,
        )
        if not serializer.is_valid():
            for field, errors in serializer.errors.items():
                self.add_error(field if field in self.fields else None, errors)
        return data
