from django import forms
from django.utils.translation import gettext_lazy as _

from datasets.models import Dataset

ENCODINGS = [
    ("", _("Detect")),
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 + BOM"),
    ("cp1252", "Windows-1252"),
    ("latin-1", "Latin-1"),
    ("utf-16", "UTF-16"),
]
DELIMITERS = [("", _("Detect")), (",", _("comma")), (";", _("semicolon")), ("tab", _("tab")), ("|", "|")]


class CommaListField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        return [item.strip() for item in (value or "").split(",") if item.strip()]


class DatasetForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Type"), choices=Dataset.Kind.choices)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    source = forms.CharField(
        label=_("Source"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Publisher, year, licence and link of the data"),
    )
    key_columns = CommaListField(
        label=_("Extra key columns"), required=False, help_text=_("Besides the ubigeo, e.g. anio (comma-separated)")
    )
    percent_columns = CommaListField(
        label=_("Percentage columns"), required=False, help_text=_("Columns whose values must lie between 0 and 100")
    )


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (CSV or XLSX)"))
    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS, required=False)
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=DELIMITERS, required=False)
    drop_invalid_rows = forms.BooleanField(
        label=_("Keep only the valid rows if some have errors"),
        required=False,
        help_text=_("Off: a file with any error is rejected whole. On: invalid rows are dropped and listed."),
    )
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SnapshotForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    columns = forms.MultipleChoiceField(
        label=_("Columns"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every numeric column of every dataset"),
    )

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["columns"].choices = [
            (f"{v.pk}:{c['name']}", f"{v.dataset.name} v{v.number} · {c['name']}")
            for v in versions
            for c in v.columns
            if c["type"] not in {"ubigeo", "key", "text"}
        ]

    def spec(self) -> list[dict]:
        chosen = []
        for value in self.cleaned_data.get("columns", []):
            version, column = value.split(":", 1)
            chosen.append({"version": int(version), "column": column})
        return chosen
