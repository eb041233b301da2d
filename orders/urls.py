from django.urls import path

from orders import apis

app_name = "orders"
urlpatterns = [
    path("webhooks/shopify/", apis.shopify_webhook, name="shopify-webhook"),
    path("webhooks/woocommerce/", apis.woocommerce_webhook, name="woocommerce-webhook"),
]
