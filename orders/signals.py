"""What the commerce app tells the apps above it, without importing them (they are higher layers).

`catalog_changed` is sent inside the transaction that changed what products are (names,
descriptions, categories, synonyms, variants' sizes and colours): the knowledge app answers it by
promising, through the outbox, that the products' vectors are brought up to date in the background.
"""

from django.dispatch import Signal

catalog_changed = Signal()
