"""`Authorization: Bearer <customer token>` for the customer side's endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from chat.api.customer.services import CustomerIdentity, CustomerTokenInvalid, customer_token_read


class InvalidCustomerToken(exceptions.AuthenticationFailed):
    # One answer for a missing, forged, expired, other tenant's or revoked key's token.
    default_detail = ("A valid customer token is required: send it as 'Authorization: Bearer <token>'. "
                      "Your backend gets one from POST /api/v1/customer/tokens.")
    default_code = "invalid_token"


@dataclass(frozen=True)
class CustomerClient:
    """request.user on the customer side: the business's app, acting for one of its customers."""

    identity: CustomerIdentity
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> int:
        return self.identity.contact_id

    def get_username(self) -> str:
        return f"api-customer:{self.identity.customer_id}"


class CustomerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[CustomerClient, CustomerIdentity]:
        parts = get_authorization_header(request).split()
        presented = parts[1].decode("latin-1") if len(parts) == 2 and parts[0].lower() == self.keyword else ""
        try:
            identity = customer_token_read(token=presented)
        except CustomerTokenInvalid:
            raise InvalidCustomerToken() from None
        return CustomerClient(identity=identity), identity

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api-customer"'


class IsCustomer(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, CustomerIdentity)
