"""The messaging platforms' webhooks, on each business's own domain."""

from django.urls import path

from chat.messaging import views

urlpatterns = [
    path("webhooks/whatsapp/<int:channel_id>/", views.whatsapp_webhook, name="messaging-whatsapp-webhook"),
    path("webhooks/telegram/<int:channel_id>/", views.telegram_webhook, name="messaging-telegram-webhook"),
]
