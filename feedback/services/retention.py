"""Free text in feedback is kept for FEEDBACK_TEXT_RETENTION_DAYS, then erased; the structured answers and any
label it produced stay."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from feedback.models import Feedback


def feedback_text_expire(*, days: int | None = None) -> int:
    days = settings.FEEDBACK_TEXT_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    return (
        Feedback.objects.filter(created_at__lt=cutoff)
        .exclude(comment="", observed_source="")
        .update(comment="", observed_source="")
    )
