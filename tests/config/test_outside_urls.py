"""config.outside_urls and its template tags: only http(s) with a host is ever an address."""

from __future__ import annotations

import html
import re

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from config.outside_urls import outside_url, outside_url_or_empty, validate_outside_url

REFUSED = [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", "java\tscript:alert(1)", "java\nscript:alert(1)",
    "java\rscript:alert(1)", " javascript:alert(1)", "\x01javascript:alert(1)", "\x00https://a.example",
    "&#106;avascript:alert(1)", "javascript&#58;alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "file:///etc/passwd", "ftp://files.example/a", "//evil.example/x", "/relative/path",
    "https:evil.example", "https:/evil.example", "https://", "https:///path", "https://user:pw@evil.example",
    "https://good.example\\@evil.example", "https://a.example:99999/", "https://[::1", "https://a.example/ b",
    "https://a.example/\u00a0", "https://a.example/\u0085x", "https://a.example/" + "x" * 2048, "", None, 42,
]
ACCEPTED = [
    "https://postnl.example/track/3STHRL0048271", "http://shop.example", "HTTPS://SHOP.EXAMPLE/A",
    "https://cdn.example:8443/a.png?size=64#top", "https://例え.jp/パス", "https://[2001:db8::1]/x",
]


@pytest.mark.parametrize("value", REFUSED)
def test_refused(value: object) -> None:
    assert outside_url(value) is None and outside_url_or_empty(value) == ""
    if value not in (None, ""):
        with pytest.raises(ValidationError):
            validate_outside_url(value)


@pytest.mark.parametrize("value", ACCEPTED)
def test_accepted(value: str) -> None:
    assert outside_url(value) == value and outside_url(f"  {value}\n") == value
    validate_outside_url(value)


@given(st.text(max_size=80))
def test_whatever_is_accepted_is_an_http_address_a_browser_reads_the_same_way(text: str) -> None:
    for candidate in (text, f"https://{text}", f"https://a.example/{text}", f"{text}https://a.example"):
        url = outside_url(candidate)
        if url is None:
            continue
        assert re.match(r"(?i)https?://[^/?#\\]", url)
        assert not re.search(r"[\x00-\x20\x7f-\x9f\\]", url)


@pytest.mark.parametrize("value", REFUSED[:14])
def test_the_tags_render_nothing_clickable_for_a_refused_address(value: str) -> None:
    rendered = Template("{% load outside_urls %}{% outside_link url 'Track' %}|{{ url|outside_url }}").render(
        Context({"url": value}))
    assert "<a" not in rendered and rendered == "Track|"


def test_the_tags_render_a_link_for_an_http_address_escaped() -> None:
    url = 'https://a.example/t?x=1&y="2"'
    rendered = Template("{% load outside_urls %}{% outside_link url label %}").render(
        Context({"url": url, "label": "<b>1Z</b>"}))
    assert rendered == (f'<a href="{html.escape(url)}" rel="noopener noreferrer">&lt;b&gt;1Z&lt;/b&gt;</a>')
