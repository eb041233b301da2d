"""A product's kind (an item, or an extra bought with another product) and the business's choice
whether customers are told stock counts."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_shop_webhook_secret_encrypted")]

    operations = [
        migrations.AddField(
            model_name="commercesettings", name="show_stock_counts",
            field=models.BooleanField(default=False,
                                      help_text="The assistant tells customers how many of a variant are left."),
        ),
        migrations.AddField(
            model_name="product", name="kind",
            field=models.CharField(choices=[("item", "Item"), ("extra", "Extra")], default="item", max_length=10),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.CheckConstraint(condition=models.Q(kind__in=["item", "extra"]),
                                              name="orders_product_kind_known"),
        ),
    ]
