"""Loads the demo tenants' FAQ and pages into the knowledge base and embeds their catalogs (see
tenants.demo).

Idempotent and quick on every `make run` after the first: unchanged sources are not touched, and
the first import embeds all texts of a tenant together in batches.
"""

from __future__ import annotations

import logging
from pathlib import Path

from chat.knowledge import services
from chat.knowledge.product_vectors import product_vectors_refresh
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def load_demo(*, tenant: Tenant, fixtures: Path) -> None:
    to_index: list[int] = []
    faq = fixtures / "faq.csv"
    if faq.exists():
        report = services.faq_import_csv(text=faq.read_text(encoding="utf-8"), name=faq.name, origin="demo:faq.csv")
        to_index += report.to_index
    for page in sorted((fixtures / "pages").glob("*.md")):
        outcome = services.page_upsert(title="", text=page.read_text(encoding="utf-8"), key=f"page:demo/{page.stem}")
        if outcome.action != "unchanged":
            to_index.append(outcome.source_id)
    if to_index:
        services.sources_index_now(source_ids=to_index)
        logger.info("demo knowledge base of %s: %s sources indexed", tenant.schema_name, len(to_index))
    # The demo's catalog (loaded before) is embedded now too, so discovery questions find products
    # in a demo opened at once, not after the background task.
    embedded = product_vectors_refresh()
    if embedded:
        logger.info("demo catalog of %s: %s products embedded", tenant.schema_name, embedded)
