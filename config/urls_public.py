"""URLs of the platform domain (public schema): the platform admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Deskpilot platform"
admin.site.site_title = "Deskpilot platform admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
