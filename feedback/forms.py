from django import forms
from django.utils.translation import gettext_lazy as _

from feedback.models import Feedback
from feedback.services.submission import SOURCE_MAX, TEXT_MAX

YES_NO = [("", "—"), ("true", _("Yes")), ("false", _("No"))]


def _boolean(value):
    return {"true": True, "false": False}.get(value)


class FeedbackForm(forms.Form):
    agrees = forms.TypedChoiceField(
        label=_("Do you agree with the prediction?"), choices=YES_NO, required=False, coerce=_boolean, empty_value=None
    )
    observed_value = forms.FloatField(
        label=_("Observed value (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("e.g. the share of your pupils below the satisfactory level"),
    )
    observed_source = forms.CharField(label=_("Source of the observed value"), required=False, max_length=SOURCE_MAX)
    implemented = forms.TypedChoiceField(
        label=_("Was it implemented?"), choices=YES_NO, required=False, coerce=_boolean, empty_value=None
    )
    implemented_on = forms.DateField(label=_("When"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    useful = forms.TypedChoiceField(
        label=_("Was it useful?"), choices=YES_NO, required=False, coerce=_boolean, empty_value=None
    )
    observed_change = forms.FloatField(
        label=_("Observed change (points)"), required=False, min_value=-100, max_value=100
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": TEXT_MAX}),
    )

    PREDICTION_FIELDS = ("agrees", "observed_value", "observed_source", "comment")
    RECOMMENDATION_FIELDS = ("implemented", "implemented_on", "useful", "observed_change", "comment")

    def __init__(self, *args, subject=Feedback.Subject.PREDICTION, **kwargs):
        super().__init__(*args, **kwargs)
        keep = self.PREDICTION_FIELDS if subject == Feedback.Subject.PREDICTION else self.RECOMMENDATION_FIELDS
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
