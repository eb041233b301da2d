"""URLs of a business's own domain (its tenant schema)."""

from django.urls import include, path

urlpatterns = [
    path("", include("chat.urls")),
    path("", include("orders.urls")),
]
