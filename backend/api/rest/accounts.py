"""REST token endpoints: the same JWTs as GraphQL's ``tokenCreate``, ``tokenRefresh`` and
``tokenRevoke`` (one ``Authorization: Bearer`` works on both APIs)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts import services
from backend.api.rest.framework import (
    InputSerializer,
    StrictCharField,
    StrictQueryParameters,
    problem_example,
    problem_responses,
    requirement_text,
)


class TokenCreateSerializer(InputSerializer):
    email = StrictCharField()
    password = StrictCharField(style={"input_type": "password"}, trim_whitespace=False)


class RefreshTokenSerializer(InputSerializer):
    refresh_token = StrictCharField()


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'.")
    refresh_token = serializers.CharField(help_text="Single use: each refresh rotates it.")
    token_type = serializers.CharField(help_text='Always "Bearer".')
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


def _pair(pair: services.TokenPair) -> Response:
    return Response(
        {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": "Bearer",
            "expires_in": settings.JWT_ACCESS_TTL_SECONDS,
        }
    )


class _PublicAPIView(StrictQueryParameters, APIView):
    # The credentials are in the body; a stale Authorization header must not block a login.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


_INVALID_REFRESH = problem_example(
    401,
    "INVALID_REFRESH_TOKEN",
    "The refresh token is invalid, expired or revoked.",
    "refresh_token",
)


class TokenCreateView(_PublicAPIView):
    @extend_schema(
        summary="Log in",
        description="Exchange email and password for an access and a refresh token. Repeated "
        "failures are delayed (429 LOGIN_ATTEMPT_DELAYED with Retry-After). "
        + requirement_text(None),
        request=TokenCreateSerializer,
        examples=[
            OpenApiExample(
                "Login",
                value={"email": "customer@example.com", "password": "correct horse"},
                request_only=True,
            )
        ],
        responses={
            200: TokenPairSerializer,
            **problem_responses(
                400,
                401,
                429,
                examples=[
                    problem_example(
                        401, "INVALID_CREDENTIALS", "Please enter a correct email and password."
                    )
                ],
            ),
        },
    )
    def post(self, request: Request) -> Response:
        body = TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _pair(
            services.token_create(
                **body.validated_data, ip=request.META.get("REMOTE_ADDR") or "unknown"
            )
        )


class TokenRefreshView(_PublicAPIView):
    @extend_schema(
        summary="Refresh tokens",
        description="Rotate: the presented refresh token stops working and a new pair is "
        "issued. Presenting a used one ends its session (REFRESH_TOKEN_REUSED). "
        + requirement_text(None),
        request=RefreshTokenSerializer,
        examples=[OpenApiExample("Refresh", value={"refresh_token": "..."}, request_only=True)],
        responses={
            200: TokenPairSerializer,
            **problem_responses(400, 401, examples=[_INVALID_REFRESH]),
        },
    )
    def post(self, request: Request) -> Response:
        body = RefreshTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _pair(services.token_refresh(**body.validated_data))


class TokenRevokeView(_PublicAPIView):
    @extend_schema(
        summary="Log out",
        description="Revoke the session of a refresh token; its access token expires on its "
        "own within minutes. " + requirement_text(None),
        request=RefreshTokenSerializer,
        examples=[OpenApiExample("Revoke", value={"refresh_token": "..."}, request_only=True)],
        responses={204: None, **problem_responses(400, 401, examples=[_INVALID_REFRESH])},
    )
    def post(self, request: Request) -> Response:
        body = RefreshTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.token_revoke(**body.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
