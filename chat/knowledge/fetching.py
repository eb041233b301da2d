"""Fetching a web page for the knowledge base without becoming a proxy into our own network.

Every hop (the URL and each redirect) goes through the egress guard (config.egress): http(s) only,
every address its host resolves to must be public (or allowed by the operator), and the connection
goes to the address that was checked, so a DNS answer that changes in between (rebinding) cannot
swap it. Size and time are capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from chat.knowledge.exceptions import FetchFailed
from config.egress import EgressRefused, guarded_httpx_transport, url_literal_check

USER_AGENT = "DeskpilotKnowledgeBot/1.0 (+imports pages a business asked us to read)"
# Redirects followed for one imported page, each hop checked by the egress guard: real sites need
# one or two (http to https, a trailing slash); more is a loop or a redirect chain.
MAX_REDIRECTS = 5
ACCEPTED_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "application/pdf")


@dataclass(frozen=True)
class FetchedPage:
    url: str
    content_type: str
    data: bytes


def _refused(error: EgressRefused, url: str) -> FetchFailed:
    if error.code == "egress_dns":
        return FetchFailed(error.message, code="kb_url_dns")
    if error.code in ("egress_scheme", "egress_invalid_url"):
        return FetchFailed(error.message, code="kb_url_scheme" if error.code == "egress_scheme" else "kb_url_invalid")
    details = error.details or {}
    host = details.get("host") or urlsplit(url).hostname or url
    return FetchFailed(f"'{host}' points to a private or local address ({details.get('address', host)}); such pages "
                       "cannot be imported.", code="kb_url_private")


def url_fetch(*, url: str) -> FetchedPage:
    """The page's bytes after at most MAX_REDIRECTS checked redirects. Raises FetchFailed."""
    limit = settings.KB_MAX_FILE_BYTES
    timeout = httpx.Timeout(settings.KB_URL_TIMEOUT_SECONDS)
    current = url
    # Every hop connects through the egress guard: the address is checked after resolution and the
    # connection goes to that address.
    with httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT},
                      trust_env=False, transport=guarded_httpx_transport()) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                url_literal_check(current)
                with client.stream("GET", current) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        if not location:
                            raise FetchFailed(f"'{current}' redirects without saying where.", code="kb_url_redirect")
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        raise FetchFailed(f"'{current}' answered HTTP {response.status_code}.", code="kb_url_http")
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > limit:
                        raise FetchFailed(f"'{current}' is larger than the {limit // (1024 * 1024)} MB limit.",
                                          code="kb_url_too_large")
                    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if content_type and content_type not in ACCEPTED_TYPES:
                        raise FetchFailed(f"'{current}' is {content_type}, not a web page or document.",
                                          code="kb_url_type")
                    body = bytearray()
                    for piece in response.iter_bytes():
                        body.extend(piece)
                        if len(body) > limit:
                            raise FetchFailed(f"'{current}' is larger than the {limit // (1024 * 1024)} MB limit.",
                                              code="kb_url_too_large")
                    return FetchedPage(url=current, content_type=content_type, data=bytes(body))
            except EgressRefused as exc:
                raise _refused(exc, current) from exc
            except httpx.TimeoutException as exc:
                raise FetchFailed(f"'{current}' did not answer within {settings.KB_URL_TIMEOUT_SECONDS:g} seconds.",
                                  code="kb_url_timeout") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"'{current}' could not be fetched: {exc}.", code="kb_url_error") from exc
    raise FetchFailed(f"'{url}' redirects more than {MAX_REDIRECTS} times.", code="kb_url_redirect")
