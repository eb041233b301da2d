"""Commerce tables, in each tenant's schema: catalog, stock, orders, opening hours, shop webhooks.

Money is always an integer count of the currency's minor units plus an ISO 4217 code; the database
refuses states that cannot be true (negative stock, a free sellable item, a duplicate SKU).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from pgvector.django import VectorField

from config.outside_urls import MAX_OUTSIDE_URL_LENGTH, validate_outside_url
from config.secrets_at_rest import EncryptedTextField

CURRENCY_CODE_REGEX = r"^[A-Z]{3}$"
# Catalog text is searched with PostgreSQL's built-in full-text search; 'simple' keeps words as they
# are (no English stemming) because tenants write in many languages. Typos are rapidfuzz's job.
SEARCH_CONFIG = "simple"


class CommerceSettings(models.Model):
    """The business's commerce defaults: one row per tenant (pk is always 1)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code of the shop's prices.")
    # Off by default: most businesses say "in stock" or "sold out" but keep their counts to themselves
    # (a café never tells a customer it has 150 lattes left).
    show_stock_counts = models.BooleanField(
        default=False, help_text="The assistant tells customers how many of a variant are left.")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "commerce settings"
        verbose_name_plural = "commerce settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="orders_settings_single_row"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CODE_REGEX), name="orders_settings_currency"),
        ]

    def __str__(self) -> str:
        return f"commerce settings ({self.currency})"


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    IMPORT = "import", "Import"


class ShopConnection(models.Model):
    """A shop platform the business connected, with the secret its webhooks are signed with."""

    platform = models.CharField(max_length=20, choices=Platform.choices, unique=True)
    # Stored encrypted (config.secrets_at_rest): the attribute is the plain secret, the column a token.
    webhook_secret = EncryptedTextField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(webhook_secret=""), name="orders_connection_secret_not_empty"),
        ]

    def __str__(self) -> str:
        return self.get_platform_display()


# ----------------------------------------------------------------------------- catalog


class ProductKind(models.TextChoices):
    ITEM = "item", "Item"
    # An add-on bought with another product (oat milk, an extra shot): priced on top of that product.
    EXTRA = "extra", "Extra"


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True)
    synonyms = models.JSONField(default=list, blank=True, help_text="Other names customers use for it.")
    price_minor = models.BigIntegerField(help_text="Lowest variant price, in minor units.")
    currency = models.CharField(max_length=3)
    is_sellable = models.BooleanField(default=True)
    kind = models.CharField(max_length=10, choices=ProductKind.choices, default=ProductKind.ITEM)
    external_ref = models.CharField(max_length=64, blank=True, db_index=True, help_text="The shop platform's id.")
    # Addresses from outside (an import, a shop, the owner): only http(s), checked where they enter
    # (config.outside_urls) and again where they are rendered; the database refuses any other scheme.
    page_url = models.CharField(max_length=MAX_OUTSIDE_URL_LENGTH, blank=True, validators=[validate_outside_url],
                                help_text="The product's page in the shop (http or https).")
    image_url = models.CharField(max_length=MAX_OUTSIDE_URL_LENGTH, blank=True, validators=[validate_outside_url],
                                 help_text="A picture of the product (http or https).")
    search_vector = models.GeneratedField(
        expression=SearchVector(
            Coalesce("name", models.Value(""), output_field=models.TextField()),
            Coalesce("category", models.Value(""), output_field=models.TextField()),
            Coalesce("description", models.Value(""), output_field=models.TextField()),
            config=SEARCH_CONFIG,
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "sku"]
        indexes = [GinIndex(fields=["search_vector"], name="orders_product_search"),
                   # Discovery questions that only name a category ("any tents?") read a few of it.
                   models.Index(fields=["category"], name="orders_product_category")]
        constraints = [
            models.CheckConstraint(condition=Q(price_minor__gte=0), name="orders_product_price_not_negative"),
            models.CheckConstraint(condition=Q(price_minor__gt=0) | Q(is_sellable=False),
                                   name="orders_product_sellable_has_price"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CODE_REGEX), name="orders_product_currency"),
            models.CheckConstraint(condition=~Q(sku=""), name="orders_product_sku_not_empty"),
            models.CheckConstraint(condition=Q(kind__in=ProductKind.values), name="orders_product_kind_known"),
            models.CheckConstraint(condition=Q(page_url="") | Q(page_url__iregex=r"^https?://"),
                                   name="orders_product_page_url_http"),
            models.CheckConstraint(condition=Q(image_url="") | Q(image_url__iregex=r"^https?://"),
                                   name="orders_product_image_url_http"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Variant(models.Model):
    """One buyable version of a product (a size, a colour) with its own price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    size = models.CharField(max_length=40, blank=True)
    colour = models.CharField(max_length=60, blank=True)
    price_minor = models.BigIntegerField()
    stock = models.IntegerField(default=0)
    is_sellable = models.BooleanField(default=True, help_text="Off: listed but not for sale.")
    external_ref = models.CharField(max_length=64, blank=True, db_index=True, help_text="The shop platform's id.")
    inventory_ref = models.CharField(max_length=64, blank=True, db_index=True,
                                     help_text="The platform's inventory item id (Shopify).")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id", "id"]
        # Discovery questions that only name a price ("anything under €20?") read a few that fit,
        # cheapest first, however large the catalog.
        indexes = [models.Index(fields=["price_minor"], name="orders_variant_price")]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="orders_variant_stock_not_negative"),
            models.CheckConstraint(condition=Q(price_minor__gte=0), name="orders_variant_price_not_negative"),
            models.CheckConstraint(condition=Q(price_minor__gt=0) | Q(is_sellable=False),
                                   name="orders_variant_sellable_has_price"),
            models.CheckConstraint(condition=~Q(sku=""), name="orders_variant_sku_not_empty"),
        ]

    def __str__(self) -> str:
        return self.sku

    @property
    def is_available(self) -> bool:
        return self.is_sellable and self.stock > 0


# Dimensions with an HNSW index on product vectors: the same as the knowledge base's chunks
# (chat.knowledge.models.EMBEDDING_INDEX_DIMENSIONS), since the same models make both.
PRODUCT_EMBEDDING_INDEX_DIMENSIONS = (384, 1536)


class ProductEmbedding(models.Model):
    """A product's vector for discovery questions ("something warm for winter").

    Embedded from what the product is (name, category, description, synonyms, what its variants
    differ in) with the knowledge base's embedding interface and model records: `embedding_model`
    and `embedding_dims` as on a knowledge chunk, so a search compares only vectors of one model and
    a model change is caught up in the background. `text_hash` is the hash of `text`: a product
    whose text changed, or whose vector another model made, is embedded again.
    """

    product = models.OneToOneField(Product, on_delete=models.CASCADE, primary_key=True, related_name="embedding")
    text = models.TextField(help_text="What was embedded.")
    text_hash = models.CharField(max_length=64)
    embedding = VectorField(null=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    embedding_dims = models.PositiveSmallIntegerField(null=True)
    # Every beginning (two letters or more) of every folded word of `text`, space-separated
    # (orders.discovery.product_search_prefixes): a question's word matches a product's word that
    # starts with it as one exact GIN lookup, where a prefix query ("tent:*") merges the postings of
    # every word with that beginning, which a large catalog cannot afford per question.
    search_prefixes = models.TextField(blank=True, default="")
    search_vector = models.GeneratedField(
        expression=models.Func(models.Func(F("search_prefixes"), models.Value(" "), function="string_to_array"),
                               function="array_to_tsvector", output_field=SearchVectorField()),
        output_field=SearchVectorField(), db_persist=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["embedding_model"], name="orders_product_vector_model"),
                   GinIndex(fields=["search_vector"], name="orders_product_vector_text")]

    def __str__(self) -> str:
        return f"vector of product {self.product_id} ({self.embedding_model or 'not embedded'})"


# ----------------------------------------------------------------------------- orders


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    PACKED = "packed", "Packed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class Order(models.Model):
    number = models.CharField(max_length=64, unique=True, help_text="The number the customer sees.")
    lookup_key = models.CharField(max_length=64, unique=True,
                                  help_text="The number without '#', spaces or case, as customers type it.")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    currency = models.CharField(max_length=3)
    subtotal_minor = models.BigIntegerField(default=0)
    shipping_minor = models.BigIntegerField(default=0)
    total_minor = models.BigIntegerField(default=0)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    placed_at = models.DateTimeField()
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.IMPORT)
    external_ref = models.CharField(max_length=64, blank=True, db_index=True, help_text="The shop platform's id.")
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the platform last changed it: older updates are ignored.")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.CheckConstraint(condition=Q(subtotal_minor__gte=0) & Q(shipping_minor__gte=0) & Q(total_minor__gte=0),
                                   name="orders_order_amounts_not_negative"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_CODE_REGEX), name="orders_order_currency"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="orders_order_status_known"),
            models.CheckConstraint(condition=~Q(number=""), name="orders_order_number_not_empty"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField()
    unit_price_minor = models.BigIntegerField()

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orders_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price_minor__gte=0), name="orders_item_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"

    @property
    def line_total_minor(self) -> int:
        return self.quantity * self.unit_price_minor


class OrderStatusChange(models.Model):
    """Append-only history: one row per status an order entered, with when it happened."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    at = models.DateTimeField(help_text="When it happened at the source.")
    source = models.CharField(max_length=40, help_text="What reported it: a webhook topic, an import, a person.")
    recorded = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "at", "id"]
        indexes = [models.Index(fields=["order", "at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(from_status=F("to_status")), name="orders_change_changes_status"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        # History is evidence: it is written once and never edited.
        if self.pk is not None and not self._state.adding:
            raise ValueError("order status history is append-only")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- opening hours


class WeeklyOpening(models.Model):
    """One opening range on a weekday, in the tenant's time zone; closes <= opens runs past midnight."""

    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday ... 6 = Sunday")
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="orders_weekly_weekday_range"),
            models.CheckConstraint(condition=~Q(opens=F("closes")), name="orders_weekly_range_not_empty"),
            models.UniqueConstraint(fields=["weekday", "opens"], name="orders_weekly_unique_start"),
        ]

    def __str__(self) -> str:
        return f"weekday {self.weekday} {self.opens:%H:%M}-{self.closes:%H:%M}"


class SpecialDay(models.Model):
    """A dated exception (holiday, special hours) replacing that date's weekly ranges."""

    date = models.DateField(unique=True)
    closed = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'closed' if self.closed else 'special hours'}"


class SpecialDayOpening(models.Model):
    special_day = models.ForeignKey(SpecialDay, on_delete=models.CASCADE, related_name="ranges")
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["special_day_id", "opens"]
        constraints = [
            models.CheckConstraint(condition=~Q(opens=F("closes")), name="orders_special_range_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.special_day_id} {self.opens:%H:%M}-{self.closes:%H:%M}"


# ----------------------------------------------------------------------------- webhooks in


class WebhookDelivery(models.Model):
    """A raw delivery from a shop platform, stored before it is processed; unique per delivery id."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    platform = models.CharField(max_length=20, choices=Platform.choices)
    delivery_id = models.CharField(max_length=128)
    topic = models.CharField(max_length=100)
    body = models.BinaryField(help_text="The raw body exactly as signed.")
    headers = models.JSONField(default=dict)
    state = models.CharField(max_length=20, choices=State.choices, default=State.RECEIVED)
    outcome = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received = models.DateTimeField(auto_now_add=True)
    processed = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "delivery_id"], name="orders_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.topic} {self.delivery_id}"
