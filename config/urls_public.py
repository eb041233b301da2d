"""URLs of the platform domain (public schema): the platform admin."""

from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import path
from django.views.generic import RedirectView

from config.metrics import metrics_view


def robots_txt(request: HttpRequest) -> HttpResponse:
    # The platform admin has nothing for crawlers.
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")


def favicon_ico(request: HttpRequest) -> FileResponse:
    # Browsers ask every site for /favicon.ico whatever the page says: one icon for the platform and
    # every business, so no page logs a 404 for it.
    response = FileResponse(open(Path(settings.BASE_DIR) / "static" / "favicon.ico", "rb"),  # noqa: SIM115 (closed by the response)
                            content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


admin.site.site_header = "Deskpilot platform"
admin.site.site_title = "Deskpilot platform admin"

urlpatterns = [
    path("robots.txt", robots_txt),
    path("favicon.ico", favicon_ico),
    path("admin/", admin.site.urls),
    # Prometheus, for the operators' scraper only (METRICS_TOKEN); not on any business's domain.
    path("metrics", metrics_view, name="metrics"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
