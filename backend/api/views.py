"""The JSON Web Key Set: the public keys other services verify Nexus access tokens with."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from backend.accounts.tokens import jwks


@require_GET
@cache_control(public=True, max_age=3600)
def jwks_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(jwks())
