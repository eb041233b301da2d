"""The one way a template renders an address that came from outside (config.outside_urls).

    {% load outside_urls %}
    {% outside_link order.tracking_url order.tracking_number %}   a link, or the label as plain text
    <img src="{{ widget.avatar_url|outside_url }}">               the address, or "" when it is not http(s)
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from config.outside_urls import outside_url as checked_outside_url

register = template.Library()


@register.filter
def outside_url(value: object) -> str:
    return checked_outside_url(value) or ""


@register.simple_tag
def outside_link(url: object, label: object = "") -> SafeString:
    """<a href> for an http(s) address with a host; anything else is shown as text, never clickable."""
    text = label if label not in (None, "") else (url or "")
    href = checked_outside_url(url)
    if href is None:
        return format_html("{}", text)
    return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', href, text)
