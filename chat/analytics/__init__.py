"""The analytics tables: one row per finished local day and its most asked opening questions."""
