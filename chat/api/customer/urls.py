"""`/api/v1/customer/`: the customer side (chat.api.urls includes it)."""

from django.urls import path

from chat.api.customer import apis

app_name = "customer"

urlpatterns = [
    path("tokens", apis.CustomerTokenApi.as_view(), name="tokens"),
    path("conversations", apis.CustomerConversationsApi.as_view(), name="conversations"),
    path("conversations/<int:conversation_id>", apis.CustomerConversationApi.as_view(), name="conversation"),
    path("conversations/<int:conversation_id>/messages", apis.CustomerMessagesApi.as_view(), name="messages"),
    path("conversations/<int:conversation_id>/rating", apis.CustomerRatingApi.as_view(), name="rating"),
    path("conversations/<int:conversation_id>/handoff", apis.CustomerHandoffApi.as_view(), name="handoff"),
]
