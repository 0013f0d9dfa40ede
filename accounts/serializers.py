from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from accounts.models import AuditEvent, Role, User


class MeSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="effective_region", read_only=True)
    region_level = serializers.CharField(read_only=True)
    region_codes = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "region",
            "region_level",
            "region_codes",
        ]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    region_level = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "role",
            "region",
            "region_level",
            "is_active",
            "last_login",
            "date_joined",
        ]
        read_only_fields = ["id", "username", "region_level", "last_login", "date_joined"]

    def get_region_level(self, user) -> str:
        return user.region_level


class UserCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, style={"input_type": "password"}
    )
    role = serializers.ChoiceField(choices=Role.choices)
    region = serializers.CharField(required=False, allow_blank=True, max_length=700)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)

    def validate_username(self, value):
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return value


class UserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    region = serializers.CharField(required=False, allow_blank=True, max_length=700)
    is_active = serializers.BooleanField(required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(write_only=True, style={"input_type": "password"})

    def validate_password(self, value):
        validate_password(value)
        return value


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor_username",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "changes",
            "reason",
        ]
        read_only_fields = fields


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class DeletionInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
