from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.models import AuditEvent, User
from accounts.permissions import IsAdministrator
from accounts.serializers import (
    AuditEventSerializer,
    DeletionInputSerializer,
    MeSerializer,
    PasswordSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.services import (
    deletion_request_create,
    user_anonymise,
    user_create,
    user_data_export,
    user_deactivate,
    user_set_password,
    user_update,
)
from core.renderers import CSVPaginationMixin, CSVRenderer


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return _("Too many failed sign-in attempts. Try again in %(minutes)d minutes.") % {"minutes": minutes}


class TokenView(APIView):
    """Exchange a username and password for an API token (`Authorization: Token <token>`)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description="Wrong credentials"),
            429: OpenApiResponse(description="Locked out after repeated failures"),
        },
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            return Response({"detail": lockout_message()}, status=status.HTTP_429_TOO_MANY_REQUESTS)
        if user is None:
            return Response(
                {"detail": _("Unable to sign in with that username and password.")}, status=status.HTTP_400_BAD_REQUEST
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class MeView(APIView):
    """The signed-in user: username, role and region."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """User management for administrators. Changes go through services that audit them."""

    permission_classes = [IsAdministrator]
    serializer_class = UserSerializer
    queryset = User.objects.all()
    filterset_fields = ["role", "is_active"]
    search_fields = ["username", "first_name", "last_name", "email", "region"]
    ordering_fields = ["username", "date_joined", "last_login"]

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request):
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(actor=request.user, **data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request, pk=None):
        user = self.get_object()
        data = UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason", "")
        user = user_update(actor=request.user, user=user, reason=reason, **fields)
        return Response(UserSerializer(user).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        """Deactivate the user and end their sessions and tokens at once."""
        user = user_deactivate(actor=request.user, user=self.get_object(), reason=request.data.get("reason", ""))
        return Response(UserSerializer(user).data)

    @extend_schema(request=PasswordSerializer, responses={204: None})
    @action(detail=True, methods=["post"])
    def password(self, request, pk=None):
        data = PasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_set_password(actor=request.user, user=self.get_object(), password=data.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def anonymise(self, request, pk=None):
        """Carry out a deletion request: remove what identifies the person, keep anonymised contributions."""
        user = self.get_object()
        if user.pk == request.user.pk:
            from core.exceptions import ApplicationError

            raise ApplicationError("You cannot anonymise yourself.")
        return Response(UserSerializer(user_anonymise(actor=request.user, user=user)).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request, pk=None):
        """Who changed this user's role, region or status, and when."""
        user = self.get_object()
        events = AuditEvent.objects.filter(target_type="accounts.user", target_id=str(user.pk))
        return Response(AuditEventSerializer(events, many=True).data)


class AuditEventViewSet(CSVPaginationMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The audit trail: every role change, promotion, review decision. Administrators only (`?format=csv`)."""

    permission_classes = [IsAdministrator]
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]
    csv_filename = "audit.csv"
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.all()
    filterset_fields = ["action", "target_type", "target_id", "actor_username"]
    search_fields = ["target_repr", "actor_username", "reason"]


class MyDataView(APIView):
    """Everything the platform holds about you (Ley 29733), as JSON."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        response = Response(user_data_export(user=request.user))
        response["Content-Disposition"] = f'attachment; filename="mis-datos-{request.user.username}.json"'
        return response


class DeletionRequestView(APIView):
    """Ask for your personal data to be deleted; an administrator carries it out (identifying data removed,
    anonymised contributions kept)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=DeletionInputSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        data = DeletionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deletion = deletion_request_create(user=request.user, reason=data.validated_data["reason"])
        return Response({"id": deletion.pk, "created_at": deletion.created_at}, status=status.HTTP_202_ACCEPTED)
