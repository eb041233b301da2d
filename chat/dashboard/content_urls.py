"""Dashboard pages about content and the business: knowledge, playground, catalog, orders, settings,
analytics. Included by chat/dashboard/urls.py, so the names share its namespace ("dashboard:...")."""

from django.urls import path, re_path

from chat.dashboard import analytics, api_keys, knowledge_views, playground, settings_views, shop

urlpatterns = [
    path("knowledge/", knowledge_views.knowledge_list, name="knowledge"),
    path("knowledge/faq/new/", knowledge_views.faq_create, name="knowledge-faq-new"),
    path("knowledge/faq/<int:source_id>/", knowledge_views.faq_edit, name="knowledge-faq-edit"),
    path("knowledge/sources/<int:source_id>/delete/", knowledge_views.source_remove, name="knowledge-delete"),
    path("knowledge/upload/", knowledge_views.knowledge_upload, name="knowledge-upload"),
    path("knowledge/url/", knowledge_views.knowledge_url_import, name="knowledge-url"),
    path("knowledge/reindex/", knowledge_views.knowledge_reindex, name="knowledge-reindex"),
    path("knowledge/jobs/<int:job_id>/", knowledge_views.knowledge_job, name="knowledge-job"),
    path("knowledge/unanswered/", knowledge_views.knowledge_unanswered, name="knowledge-unanswered"),
    path("playground/", playground.playground_page, name="playground"),
    path("catalog/", shop.catalog_list, name="catalog"),
    path("catalog/upload/", shop.catalog_upload, name="catalog-upload"),
    path("catalog/<int:product_id>/", shop.product_detail, name="catalog-product"),
    path("catalog/<int:product_id>/edit/", shop.product_edit, name="catalog-product-edit"),
    path("catalog/variants/<int:variant_id>/edit/", shop.variant_edit, name="catalog-variant-edit"),
    path("orders/", shop.order_list, name="orders"),
    path("orders/<int:order_id>/", shop.order_detail, name="order"),
    path("webhooks/", shop.webhooks_page, name="webhooks"),
    path("settings/profile/", settings_views.profile_page, name="profile"),
    path("settings/profile/llm/", settings_views.profile_llm, name="profile-llm"),
    path("settings/hours/", settings_views.hours_page, name="hours"),
    path("settings/commerce/", settings_views.commerce_page, name="commerce"),
    path("settings/widget/", settings_views.widget_page, name="widget"),
    path("settings/api-keys/", api_keys.api_keys_page, name="api-keys"),
    re_path(r"^settings/api-keys/(?P<key_id>[0-9a-f]{16})/revoke$", api_keys.api_key_revoke_view,
            name="api-key-revoke"),
    path("analytics/", analytics.analytics_page, name="analytics"),
    path("usage/", analytics.usage_page, name="usage"),
]
