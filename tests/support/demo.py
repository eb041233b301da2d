"""The demo's content without its month of past conversations: what tests and benchmarks load when
they add conversations of their own and look for them."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

# The demo's past month of conversations (the last of settings.DESKPILOT_DEMO_LOADERS).
DEMO_HISTORY_LOADER = "chat.conversations.demo_history.load_demo"


def demo_content_loaders(loaders: Iterable[str] | None = None) -> list[str]:
    """`loaders` (by default every demo loader of the settings) without the past conversations."""
    chosen = settings.DESKPILOT_DEMO_LOADERS if loaders is None else loaders
    return [path for path in chosen if path != DEMO_HISTORY_LOADER]
