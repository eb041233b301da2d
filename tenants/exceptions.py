from config.errors import ApplicationError, NotFound


class TenantError(ApplicationError):
    code = "tenant_invalid"


class TenantNotFound(NotFound):
    code = "tenant_not_found"


class DeadLetterNotFound(NotFound):
    code = "dead_letter_not_found"
