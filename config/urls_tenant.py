"""URLs of a business's own domain (its tenant schema)."""

from django.urls import include, path

from config.urls_public import favicon_ico, robots_txt

urlpatterns = [
    path("robots.txt", robots_txt),
    path("favicon.ico", favicon_ico),
    path("app/", include("chat.dashboard.urls")),
    path("api/", include("chat.api.urls")),
    path("v1/", include("chat.api.openai.urls")),
    path("", include("chat.urls")),
    path("", include("orders.urls")),
    path("", include("chat.messaging.urls")),
]
