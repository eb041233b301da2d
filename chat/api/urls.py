"""`/api/` on a business's own domain (config.urls_tenant): version 1's routes, then a JSON 404 for
every other path under /api/. Each area adds its routes to `v1`."""

from django.urls import include, path, re_path

from chat.api import apis
from chat.api.conventions import api_not_found

app_name = "api"

v1 = [
    path("key", apis.CurrentKeyApi.as_view(), name="current-key"),
    path("customer/", include("chat.api.customer.urls")),
]

urlpatterns = [
    path("v1/", include(v1)),
    re_path(r"^(?P<path>.*)$", api_not_found),
]
