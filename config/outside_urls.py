"""Addresses that come from outside (shop webhooks, catalog imports, tenant settings, knowledge
sources): accepted only as an absolute http(s) URL with a host, and rendered only through
`outside_url`, so a `javascript:`, `data:` or `vbscript:` address never becomes a link.

The check is on the text as a browser would read it, not on what a parser forgives: any control
character, space or backslash inside the address refuses it outright, because browsers drop tabs and
line breaks from a URL ("java\\tscript:" runs as "javascript:") and read "\\" as "/". The scheme is
then compared in lower case against http and https only, so "JAVASCRIPT:", "data:", "vbscript:",
an entity-spelled "&#106;avascript:" (whose scheme part is not a scheme) and a missing host are all
refused. An address with a user name or password in it is refused too: it only serves to disguise
the host a reader sees.

This says nothing about where the address points: fetching one on a tenant's behalf goes through the
egress guard, which checks the resolved addresses.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

# Browsers and servers cap addresses at a few thousand characters; a tracking link or an avatar longer
# than this is not one.
MAX_OUTSIDE_URL_LENGTH = 2048
ALLOWED_SCHEMES = frozenset({"http", "https"})
# C0 controls, DEL, C1 controls, every kind of space (a URL has none unescaped) and the backslash.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\\\s]")


def outside_url(value: object) -> str | None:
    """`value` (stripped of surrounding spaces) if it is an absolute http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip(" \t\r\n\f")  # what a form or a shop's export leaves around a value; not NBSP
    if not text or len(text) > MAX_OUTSIDE_URL_LENGTH or _FORBIDDEN.search(text):
        return None
    scheme, separator, _ = text.partition(":")
    if not separator or scheme.lower() not in ALLOWED_SCHEMES or not text[len(scheme) + 1:].startswith("//"):
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    return text


def outside_url_or_empty(value: object, *, field: str = "") -> str:
    """For storing: a safe URL or "" (the field is dropped, the rest of the record is kept).

    With `field`, a refused non-empty value is logged under that name, so a shop whose tracking
    links disappear can be told why; the value is cut short, as it is the sender's text.
    """
    checked = outside_url(value)
    if checked is None and field and value not in (None, ""):
        logger.warning("%s dropped: %.200r is not an http(s) address with a host", field, value)
    return checked or ""


def validate_outside_url(value: object) -> None:
    """A form and model field validator: refuses anything `outside_url` would not render."""
    if value in (None, ""):
        return
    if outside_url(value) is None:
        raise ValidationError("Enter a web address starting with https:// (or http://) and a host name.",
                              code="invalid_outside_url")
