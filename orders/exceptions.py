"""The commerce app's errors: each has a code and an HTTP status, rendered in the one error shape."""

from __future__ import annotations

from config.errors import ApplicationError, NotFound, ValidationFailed


class UnknownCurrency(ValidationFailed):
    code = "unknown_currency"


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"


class InvalidPayload(ValidationFailed):
    code = "invalid_payload"


class InvalidTransition(ApplicationError):
    code = "invalid_transition"
    status = 409


class OrderNotFound(NotFound):
    code = "order_not_found"


class CatalogImportFailed(ValidationFailed):
    code = "catalog_import_failed"


class InvalidHours(ValidationFailed):
    code = "invalid_hours"


class WebhookRejected(ApplicationError):
    """A delivery we refuse before storing anything: bad signature, too large, not JSON."""

    code = "webhook_rejected"


class ShopNotConnected(ApplicationError):
    code = "shop_not_connected"
    status = 400
