"""URLs of the platform domain (public schema): the platform admin."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.generic import RedirectView


def robots_txt(request: HttpRequest) -> HttpResponse:
    # The platform admin has nothing for crawlers.
    return HttpResponse("User-agent: *\nDisallow: /\n", content_type="text/plain")


admin.site.site_header = "Deskpilot platform"
admin.site.site_title = "Deskpilot platform admin"

urlpatterns = [
    path("robots.txt", robots_txt),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
