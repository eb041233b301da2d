"""Writes and decisions about tenants, their schemas, users and the dead-letter store."""

from __future__ import annotations

import logging
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from config.celery import SCHEMA_HEADER, app
from config.content_version import content_version_bump
from config.redis import redis_client
from tenants.exceptions import DeadLetterNotFound, TenantError, TenantNotFound
from tenants.models import DeadLetter, Domain, Plan, Tenant
from tenants.schemas import schema_copy_structure

logger = logging.getLogger(__name__)

# Lower-case letters, digits and underscores, starting with a letter: a safe PostgreSQL schema name
# that needs no quoting and reads well in a URL.
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
RESERVED_SLUGS = {"public", "information_schema", "tenant_template", "admin", "www", "api", "static"}
DOMAIN_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
DEFAULT_PLAN_CODE = "starter"
ROLE_OWNER = "owner"
ROLE_AGENT = "agent"

DEFAULT_PLANS = [
    {"code": "starter", "name": "Starter", "monthly_messages": 2_000, "monthly_tokens": 2_000_000,
     "knowledge_sources": 200, "agent_seats": 3, "price_minor": 2900},
    {"code": "growth", "name": "Growth", "monthly_messages": 10_000, "monthly_tokens": 10_000_000,
     "knowledge_sources": 1_000, "agent_seats": 10, "price_minor": 9900},
    {"code": "scale", "name": "Scale", "monthly_messages": 50_000, "monthly_tokens": 50_000_000,
     "knowledge_sources": 10_000, "agent_seats": 50, "price_minor": 29900},
]


@dataclass(frozen=True)
class CreatedTenant:
    tenant: Tenant
    domain: Domain
    owner_email: str | None
    owner_password: str | None


# ----------------------------------------------------------------------------- schemas


def template_schema_name() -> str:
    return str(settings.DESKPILOT_TENANT_TEMPLATE_SCHEMA)


def schemas_migrate_all(*, verbosity: int = 0) -> None:
    """Bring the public schema, the tenant template and every tenant up to date."""
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
    template = template_schema_name()
    if not schema_exists(template):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{template}"')
    call_command("migrate_schemas", tenant=True, schema_name=template, interactive=False, verbosity=verbosity)
    if Tenant.objects.exclude(schema_name=get_public_schema_name()).exists():
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
    platform_ensure()


def platform_ensure() -> Tenant:
    """The public tenant and its domain, which serve the platform admin, and the default plans."""
    for plan in DEFAULT_PLANS:
        Plan.objects.get_or_create(code=plan["code"], defaults=plan)
    public, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(), defaults={"name": "Deskpilot platform"}
    )
    Domain.objects.get_or_create(domain=settings.PLATFORM_DOMAIN, defaults={"tenant": public, "is_primary": True})
    return public


# ----------------------------------------------------------------------------- tenants


def tenant_new_validate(*, slug: str, name: str, domain: str) -> None:
    if not SLUG_PATTERN.match(slug) or slug.startswith("pg_") or slug in RESERVED_SLUGS:
        raise TenantError(
            f"'{slug}' is not a valid tenant slug: use 2-40 lower-case letters, digits or underscores, "
            "starting with a letter (it becomes the database schema name).",
            code="invalid_slug",
        )
    if not name.strip():
        raise TenantError("A tenant needs a name.", code="invalid_name")
    if not DOMAIN_PATTERN.match(domain):
        raise TenantError(f"'{domain}' is not a valid domain name.", code="invalid_domain")
    if Tenant.objects.filter(schema_name=slug).exists():
        raise TenantError(f"A tenant with slug '{slug}' already exists.", code="duplicate_slug")
    if Domain.objects.filter(domain=domain).exists():
        raise TenantError(f"The domain '{domain}' already belongs to a tenant.", code="duplicate_domain")


def tenant_create(
    *,
    slug: str,
    name: str,
    domain: str,
    owner_email: str | None = None,
    plan_code: str | None = None,
    timezone_name: str = "UTC",
) -> CreatedTenant:
    """Create a tenant, its schema (cloned from the template), its domain and optionally its owner.

    Everything happens in one transaction, DDL included: on any failure nothing is left behind.
    """
    slug = slug.strip()
    domain = domain.strip().lower()
    tenant_new_validate(slug=slug, name=name, domain=domain)
    plan = Plan.objects.filter(code=plan_code or DEFAULT_PLAN_CODE).first()
    if plan_code and plan is None:
        raise TenantError(f"There is no plan '{plan_code}'.", code="unknown_plan")
    _validate_timezone(timezone_name)
    if not schema_exists(template_schema_name()):
        raise TenantError("The tenant template schema is missing: run `python manage.py migrate_all` first.",
                          code="not_migrated")
    owner_password: str | None = None
    try:
        with transaction.atomic():
            tenant = Tenant(schema_name=slug, name=name.strip(), plan=plan, timezone=timezone_name)
            tenant.save()
            schema_copy_structure(source=template_schema_name(), target=slug)
            domain_row = Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
            if owner_email:
                owner_password = secrets.token_urlsafe(12)
                with schema_context(slug):
                    tenant_user_create(email=owner_email, password=owner_password, role=ROLE_OWNER)
    except IntegrityError as exc:
        raise TenantError(f"The tenant could not be created: {exc}", code="conflict") from exc
    finally:
        connection.set_schema_to_public()
    logger.info("tenant %s created with domain %s", slug, domain)
    return CreatedTenant(tenant=tenant, domain=domain_row, owner_email=owner_email, owner_password=owner_password)


def _validate_timezone(name: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise TenantError(f"'{name}' is not a known time zone.", code="invalid_timezone") from exc


def tenant_get(*, slug: str) -> Tenant:
    tenant = Tenant.objects.exclude(schema_name=get_public_schema_name()).filter(schema_name=slug).first()
    if tenant is None:
        raise TenantNotFound(f"There is no tenant '{slug}'.")
    return tenant


def tenant_set_status(*, slug: str, status: str) -> Tenant:
    tenant = tenant_get(slug=slug)
    if tenant.status != status:
        tenant.status = status
        tenant.save(update_fields=["status"])
        logger.info("tenant %s is now %s", slug, status)
    return tenant


def tenant_user_create(*, email: str, password: str, role: str, name: str = "") -> Any:
    """Create a dashboard user in the current tenant schema, in the owner or agent group."""
    from django.contrib.auth.models import Group, User

    if connection.schema_name == get_public_schema_name():
        raise TenantError("Tenant users are created inside a tenant schema.", code="no_tenant")
    email = email.strip().lower()
    user = User.objects.filter(username=email).first()
    if user is None:
        user = User.objects.create_user(username=email, email=email, password=password, first_name=name)
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    return user


# ----------------------------------------------------------------------------- dead letters

FIRST_FAILURE_TTL_SECONDS = 7 * 24 * 3600


def _first_failure_key(task_id: str) -> str:
    return f"deskpilot:first_failure:{task_id}"


def deadletter_note_failure(*, task_id: str) -> None:
    """Remember when a task first failed, so its dead letter can say so after the retries."""
    redis_client().set(_first_failure_key(task_id), timezone.now().isoformat(), nx=True, ex=FIRST_FAILURE_TTL_SECONDS)


def deadletter_record(
    *,
    task_name: str,
    task_id: str,
    schema_name: str | None,
    queue: str,
    args: list[Any],
    kwargs: dict[str, Any],
    error: str,
    traceback: str,
    attempts: int,
) -> DeadLetter:
    now = timezone.now()
    first = redis_client().get(_first_failure_key(task_id))
    first_failed_at = timezone.datetime.fromisoformat(first) if first else now
    with schema_context(get_public_schema_name()):
        letter = DeadLetter.objects.create(
            task_name=task_name,
            task_id=task_id,
            schema_name=schema_name if schema_name and schema_name != get_public_schema_name() else "",
            queue=queue,
            args=_json_safe(args),
            kwargs=_json_safe(kwargs),
            error=error[:5000],
            traceback=traceback[-20000:],
            attempts=attempts,
            first_failed_at=first_failed_at,
            last_failed_at=now,
        )
    redis_client().delete(_first_failure_key(task_id))
    return letter


def _json_safe(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def deadletter_get(*, letter_id: int) -> DeadLetter:
    letter = DeadLetter.objects.filter(pk=letter_id).first()
    if letter is None:
        raise DeadLetterNotFound(f"There is no dead letter {letter_id}.")
    return letter


def deadletter_replay(*, letter_id: int) -> str:
    """Send the task again, for the same tenant, on its queue. Returns the new task id."""
    letter = deadletter_get(letter_id=letter_id)
    result = app.send_task(
        letter.task_name,
        args=letter.args,
        kwargs=letter.kwargs,
        queue=letter.queue or None,
        headers={SCHEMA_HEADER: letter.schema_name or None},
    )
    DeadLetter.objects.filter(pk=letter.pk).update(replayed_at=timezone.now(), replay_count=letter.replay_count + 1)
    logger.info("dead letter %s replayed as task %s", letter.pk, result.id)
    return str(result.id)


def deadletter_purge(*, letter_id: int) -> None:
    deadletter_get(letter_id=letter_id).delete()


def tenant_timezone_set(*, tenant: Tenant, timezone_name: str) -> Tenant:
    """The zone opening hours are written in and analytics days are counted in."""
    name = timezone_name.strip()
    if name not in zoneinfo.available_timezones():
        raise TenantError(f"'{name}' is not a known time zone (e.g. Europe/Amsterdam).", code="invalid_timezone")
    Tenant.objects.filter(pk=tenant.pk).update(timezone=name)
    content_version_bump(schema_name=tenant.schema_name)
    tenant.timezone = name
    return tenant
