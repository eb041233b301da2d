"""Loads the demo tenants' catalog, orders and opening hours (see tenants.demo)."""

from pathlib import Path

from tenants.models import Tenant


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    """Idempotent: filled in by the commerce work."""
