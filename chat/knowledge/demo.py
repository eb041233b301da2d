"""Loads the demo tenants' FAQ and pages into the knowledge base (see tenants.demo)."""

from pathlib import Path

from tenants.models import Tenant


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    """Idempotent: filled in by the knowledge-base work."""
