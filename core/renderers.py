import csv
import io
import json

from rest_framework.renderers import BaseRenderer

from core.exports import safe_cell


class CSVRenderer(BaseRenderer):
    """`?format=csv` on list endpoints: one row per item, nested values as JSON, formula-like cells neutralised."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        if isinstance(data, dict):
            data = [data]
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer)
        header = list(data[0].keys()) if data else []
        writer.writerow([safe_cell(name) for name in header])
        for item in data:
            writer.writerow([safe_cell(self._flat(item.get(key))) for key in header])
        response = (renderer_context or {}).get("response")
        view = (renderer_context or {}).get("view")
        if response is not None and response.status_code < 400:
            name = getattr(view, "csv_filename", None) or "export.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return buffer.getvalue().encode(self.charset)

    @staticmethod
    def _flat(value):
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return value


class CSVPaginationMixin:
    """CSV exports hold every row: no pagination when the client asked for CSV."""

    def paginate_queryset(self, queryset):
        if getattr(self.request, "accepted_renderer", None) and self.request.accepted_renderer.format == "csv":
            return None
        return super().paginate_queryset(queryset)
