from rest_framework import serializers

from jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "message",
            "failure_reason",
            "params",
            "result",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "attempts",
            "duration_seconds",
        ]
        read_only_fields = fields
