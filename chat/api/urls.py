"""`/api/` on a business's own domain (config.urls_tenant): version 1's routes, then a JSON 404 for
every other path under /api/. Each area adds its routes to `v1`."""

from csp.decorators import csp_update
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from chat.api import apis
from chat.api.business import commerce, conversations, knowledge, usage
from chat.api.conventions import api_not_found


class RowId:
    """A row id that fits the database's bigint: 18 digits at most (anything longer is a 404 here,
    never a query that overflows)."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class Reference(RowId):
    """A SKU or an order number: up to 64 characters, none of them a slash or a control character."""

    regex = "[^/\x00-\x1f\x7f]{1,64}"

    def to_python(self, value: str) -> str:  # type: ignore[override]
        return value

    def to_url(self, value: str) -> str:  # type: ignore[override]
        return value


register_converter(RowId, "row")
register_converter(Reference, "ref")

app_name = "api"

v1 = [
    # The schema and its browsable docs: public, the same on every business's domain.
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    # Swagger UI styles its page with a <style> block and style attributes; its scripts stay 'self'.
    path("docs/", csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(
        url_name="api:schema", authentication_classes=[], permission_classes=[])), name="docs"),
    path("key", apis.CurrentKeyApi.as_view(), name="current-key"),
    # Conversations and contacts
    path("conversations", conversations.ConversationListApi.as_view(), name="conversations"),
    path("conversations/<row:conversation_id>", conversations.ConversationApi.as_view(), name="conversation"),
    path("conversations/<row:conversation_id>/messages", conversations.ConversationReplyApi.as_view(),
         name="conversation-reply"),
    path("conversations/<row:conversation_id>/notes", conversations.ConversationNoteApi.as_view(),
         name="conversation-notes"),
    path("conversations/<row:conversation_id>/take-over", conversations.ConversationTakeOverApi.as_view(),
         name="conversation-take-over"),
    path("conversations/<row:conversation_id>/hand-back", conversations.ConversationHandBackApi.as_view(),
         name="conversation-hand-back"),
    path("conversations/<row:conversation_id>/resolve", conversations.ConversationResolveApi.as_view(),
         name="conversation-resolve"),
    path("conversations/<row:conversation_id>/assign", conversations.ConversationAssignApi.as_view(),
         name="conversation-assign"),
    path("contacts", conversations.ContactListApi.as_view(), name="contacts"),
    path("contacts/<row:contact_id>", conversations.ContactApi.as_view(), name="contact"),
    path("contacts/<row:contact_id>/conversations", conversations.ContactConversationsApi.as_view(),
         name="contact-conversations"),
    path("contacts/<row:contact_id>/orders", conversations.ContactOrdersApi.as_view(), name="contact-orders"),
    path("contacts/<row:contact_id>/export", conversations.ContactExportApi.as_view(), name="contact-export"),
    path("contacts/<row:contact_id>/erase", conversations.ContactEraseApi.as_view(), name="contact-erase"),
    # Knowledge
    path("knowledge/sources", knowledge.SourceListApi.as_view(), name="knowledge-sources"),
    path("knowledge/sources/text", knowledge.TextSourceApi.as_view(), name="knowledge-source-text"),
    path("knowledge/sources/url", knowledge.UrlSourceApi.as_view(), name="knowledge-source-url"),
    path("knowledge/sources/file", knowledge.FileSourceApi.as_view(), name="knowledge-source-file"),
    path("knowledge/sources/<row:source_id>", knowledge.SourceApi.as_view(), name="knowledge-source"),
    path("knowledge/search", knowledge.SearchApi.as_view(), name="knowledge-search"),
    # Catalog, stock, orders, opening hours
    path("products", commerce.ProductListApi.as_view(), name="products"),
    path("products/<ref:sku>", commerce.ProductApi.as_view(), name="product"),
    path("stock", commerce.StockBulkApi.as_view(), name="stock-bulk"),
    path("stock/<ref:sku>", commerce.StockApi.as_view(), name="stock"),
    path("orders", commerce.OrderListApi.as_view(), name="orders"),
    path("orders/<ref:number>", commerce.OrderApi.as_view(), name="order"),
    path("opening-hours", commerce.OpeningHoursApi.as_view(), name="opening-hours"),
    # Usage
    path("usage", usage.UsageApi.as_view(), name="usage"),
    # Outgoing webhooks (chat.webhooks)
    path("webhooks/", include("chat.webhooks.urls")),
    path("customer/", include("chat.api.customer.urls")),
]

urlpatterns = [
    path("v1/", include(v1)),
    # Any character, a newline too: an id like "%0A" gets this JSON 404, not the site's HTML page.
    re_path(r"^(?P<path>[\s\S]*)\Z", api_not_found),
]
