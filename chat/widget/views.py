"""HTTP side of the widget: the script, its configuration (CORS by allowed origin), the demo page."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from chat.widget import services
from chat.widget.demo import demo_page_get
from config.errors import error_response

WIDGET_SCRIPT = Path(settings.BASE_DIR) / "static" / "widget" / "widget.js"


@require_GET
def widget_script(request: HttpRequest) -> HttpResponse:
    if not WIDGET_SCRIPT.exists():
        return error_response("not_found", "The widget script is not built.", 404)
    response = FileResponse(WIDGET_SCRIPT.open("rb"), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _socket_url(request: HttpRequest) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/widget/"


@require_GET
def widget_config(request: HttpRequest) -> HttpResponse:
    widget = services.widget_settings_for_key(request.GET.get("key", ""))
    if widget is None:
        return error_response("unknown_key", "There is no widget with this key on this site.", 404)
    origin = request.headers.get("Origin")
    if not services.origin_allowed(widget, origin):
        return error_response("origin_not_allowed", "This website may not embed this widget.", 403)
    response = JsonResponse(services.widget_config(widget, socket_url=_socket_url(request)))
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def agent_avatar(request: HttpRequest, user_id: int) -> HttpResponse:
    """A team member's uploaded avatar, as the widget shows it beside their replies (on any site)."""
    avatar = services.agent_avatar_get(user_id=user_id)
    if avatar is None:
        return error_response("not_found", "There is no such avatar.", 404)
    content, content_type = avatar
    response = HttpResponse(content, content_type=content_type)
    # Checked to be an image when uploaded; never read as anything else, never run as a page.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    # The widget asks for it with the upload's time in the address: a new upload is a new address.
    response["Cache-Control"] = "public, max-age=86400"
    return response


# The widget settings page previews the demo page in a frame: the business's own dashboard (same
# origin) may frame it, no other site. The page is outside the dashboard's Content-Security-Policy
# (it stands for the business's own website), so it carries this one directive of its own; the
# older X-Frame-Options says the same to browsers that do not read it.
DEMO_FRAME_ANCESTORS = "frame-ancestors 'self'"


@require_GET
@xframe_options_sameorigin
def demo_page(request: HttpRequest) -> HttpResponse:
    """A sample website of this kind of business with its widget on it, to try the product in a minute."""
    widget = services.widget_settings_get()
    page = demo_page_get()
    scheme = "https" if request.is_secure() else "http"
    response = render(request, page.template, {
        "tenant_name": page.name or request.tenant.name,
        "page": page,
        "widget_src": f"{scheme}://{request.get_host()}/widget.js",
        "public_key": widget.public_key,
    })
    response["Content-Security-Policy"] = DEMO_FRAME_ANCESTORS
    return response
