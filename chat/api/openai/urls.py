"""`/v1/` on a business's own domain (config.urls_tenant): the OpenAI-compatible endpoint."""

from django.urls import path, re_path

from chat.api.openai import apis

app_name = "openai"

urlpatterns = [
    path("chat/completions", apis.ChatCompletionsApi.as_view(), name="chat-completions"),
    path("models", apis.ModelsApi.as_view(), name="models"),
    path("models/<str:model>", apis.ModelApi.as_view(), name="model"),
    re_path(r"^(?P<path>.*)$", apis.openai_not_found),
]
