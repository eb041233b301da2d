"""Fetching a web page for the knowledge base without becoming a proxy into our own network.

Every hop (the URL and each redirect) is checked before it is requested: http(s) only, and every
address its host resolves to must be public. After connecting, the address actually connected to
is checked again, so a DNS answer that changes between the check and the connection (rebinding)
is caught too. Size and time are capped.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from chat.knowledge.exceptions import FetchFailed

USER_AGENT = "DeskpilotKnowledgeBot/1.0 (+imports pages a business asked us to read)"
ACCEPTED_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "text/markdown", "application/pdf")


@dataclass(frozen=True)
class FetchedPage:
    url: str
    content_type: str
    data: bytes


def _blocked_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _check_host(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchFailed(f"Only http and https pages can be imported, not '{parts.scheme or url}'.",
                          code="kb_url_scheme")
    host = parts.hostname
    if not host:
        raise FetchFailed(f"'{url}' has no host name.", code="kb_url_invalid")
    if not settings.KB_URL_BLOCK_PRIVATE_ADDRESSES or host.lower() in {h.lower() for h in settings.KB_URL_ALLOWED_HOSTS}:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchFailed(f"The host '{host}' could not be found.", code="kb_url_dns") from exc
    for info in infos:
        if _blocked_address(str(info[4][0])):
            raise FetchFailed(f"'{host}' points to a private or local address ({info[4][0]}); such pages cannot be "
                              "imported.", code="kb_url_private")


def _check_connected_peer(response: httpx.Response, url: str) -> None:
    host = (urlsplit(url).hostname or "").lower()
    if not settings.KB_URL_BLOCK_PRIVATE_ADDRESSES or host in {h.lower() for h in settings.KB_URL_ALLOWED_HOSTS}:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and _blocked_address(str(peer[0])):
        raise FetchFailed(f"'{host}' connected to a private or local address ({peer[0]}); such pages cannot be "
                          "imported.", code="kb_url_private")


def url_fetch(*, url: str) -> FetchedPage:
    """The page's bytes after at most KB_URL_MAX_REDIRECTS checked redirects. Raises FetchFailed."""
    limit = settings.KB_MAX_FILE_BYTES
    timeout = httpx.Timeout(settings.KB_URL_TIMEOUT_SECONDS)
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT},
                      trust_env=False) as client:
        for _hop in range(settings.KB_URL_MAX_REDIRECTS + 1):
            _check_host(current)
            try:
                with client.stream("GET", current) as response:
                    _check_connected_peer(response, current)
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
            except httpx.TimeoutException as exc:
                raise FetchFailed(f"'{current}' did not answer within {settings.KB_URL_TIMEOUT_SECONDS:g} seconds.",
                                  code="kb_url_timeout") from exc
            except httpx.HTTPError as exc:
                raise FetchFailed(f"'{current}' could not be fetched: {exc}.", code="kb_url_error") from exc
    raise FetchFailed(f"'{url}' redirects more than {settings.KB_URL_MAX_REDIRECTS} times.", code="kb_url_redirect")
