"""A product's page in the shop and its picture, each an optional http(s) address (issue #25: cards
with a link and an image where the catalog has them); the database refuses any other scheme."""

from django.db import migrations, models

import config.outside_urls


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0005_discovery_search_prefixes_and_filter_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='image_url',
            field=models.CharField(blank=True, help_text='A picture of the product (http or https).', max_length=2048, validators=[config.outside_urls.validate_outside_url]),
        ),
        migrations.AddField(
            model_name='product',
            name='page_url',
            field=models.CharField(blank=True, help_text="The product's page in the shop (http or https).", max_length=2048, validators=[config.outside_urls.validate_outside_url]),
        ),
        migrations.AddConstraint(
            model_name='product',
            constraint=models.CheckConstraint(condition=models.Q(('page_url', ''), ('page_url__iregex', '^https?://'), _connector='OR'), name='orders_product_page_url_http'),
        ),
        migrations.AddConstraint(
            model_name='product',
            constraint=models.CheckConstraint(condition=models.Q(('image_url', ''), ('image_url__iregex', '^https?://'), _connector='OR'), name='orders_product_image_url_http'),
        ),
    ]
