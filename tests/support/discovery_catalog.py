"""A generated outdoor-shop catalog for product discovery: the third, larger catalog of the labelled
set (tests/orders/data/discovery_questions.jsonl) and the one the benchmark scales to 100k products.

Every product is made from a template whose facts are known here (category, attributes, price), so a
labelled question's acceptable products are those whose facts fit it, chosen from these facts and
never from what the search returns. Deterministic: the same `count` gives the same catalog.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

# (category, product type, description template, attribute sets, price range in euros, sizes, colours)
TEMPLATES = [
    ("Tents", "Tent", "{a} tent for {people} people, {w} kg, with a {s}-season flysheet.",
     [("2-person", "lightweight"), ("4-person", "family"), ("1-person", "ultralight")], (90, 480),
     [], ["Green", "Orange", "Grey"]),
    ("Sleeping bags", "Sleeping Bag", "{a} sleeping bag filled with {f}, comfortable down to {t} degrees.",
     [("down", "winter", "warm"), ("synthetic", "summer"), ("recycled", "vegan", "synthetic")], (60, 390),
     ["Regular", "Long"], ["Blue", "Red"]),
    ("Backpacks", "Backpack", "{a} backpack of {l} litres with a rain cover and hip belt.",
     [("daypack",), ("trekking", "waterproof"), ("recycled", "daypack")], (40, 260), ["S", "M", "L"],
     ["Black", "Olive", "Navy"]),
    ("Rain jackets", "Rain Jacket", "{a} waterproof rain jacket with taped seams and a hood.",
     [("waterproof", "lightweight"), ("waterproof", "recycled"), ("waterproof", "insulated", "warm")], (70, 320),
     ["S", "M", "L", "XL"], ["Red", "Black", "Yellow"]),
    ("Fleece", "Fleece", "{a} fleece jacket in {f} fleece, warm and breathable.",
     [("recycled", "warm"), ("wool", "warm"), ("lightweight",)], (45, 160), ["S", "M", "L", "XL"],
     ["Grey", "Navy", "Green"]),
    ("Base layers", "Base Layer", "{a} base layer top in {f}, for cold days on the trail.",
     [("merino", "wool", "warm"), ("synthetic", "quick-dry"), ("merino", "wool", "lightweight")], (30, 110),
     ["S", "M", "L"], ["Black", "Grey"]),
    ("Hiking boots", "Hiking Boot", "{a} hiking boot in {f} with a grippy rubber sole.",
     [("leather", "waterproof"), ("suede", "lightweight"), ("vegan", "waterproof")], (90, 290),
     ["40", "41", "42", "43", "44", "45"], ["Brown", "Black"]),
    ("Trail shoes", "Trail Shoe", "{a} trail running shoe, light and fast on rough ground.",
     [("lightweight",), ("waterproof", "lightweight"), ("vegan", "recycled")], (70, 180),
     ["39", "40", "41", "42", "43", "44"], ["Blue", "Orange", "Black"]),
    ("Socks", "Hiking Socks", "{a} hiking socks in {f}, cushioned for long walks.",
     [("merino", "wool", "warm"), ("cotton",), ("recycled",)], (9, 29), ["36-40", "41-46"], ["Grey", "Green"]),
    ("Gloves", "Gloves", "{a} gloves in {f} for cold and wet days.",
     [("wool", "warm"), ("waterproof", "insulated", "warm"), ("leather",)], (15, 75), ["S", "M", "L"],
     ["Black"]),
    ("Hats", "Beanie", "{a} beanie in {f}, warm on windy summits.",
     [("merino", "wool", "warm"), ("recycled", "warm"), ("cotton",)], (12, 40), [], ["Black", "Red", "Navy"]),
    ("Bottles", "Water Bottle", "{a} water bottle of {l} ml in {f}.",
     [("steel", "insulated"), ("recycled", "lightweight"), ("bpa-free",)], (8, 45), [], ["Silver", "Blue"]),
    ("Stoves", "Camping Stove", "{a} camping stove burning {f}, boils a litre in {m} minutes.",
     [("gas", "lightweight"), ("multi-fuel",), ("gas", "family")], (35, 190), [], []),
    ("Headlamps", "Headlamp", "{a} headlamp with {m}0 lumens and a rechargeable battery.",
     [("rechargeable", "waterproof"), ("lightweight",), ("rechargeable",)], (15, 95), [], ["Black", "Orange"]),
    ("Trail food", "Energy Bar", "{a} energy bar with oats, nuts and dates; {f}.",
     [("vegan", "gluten-free"), ("chocolate",), ("vegan", "chocolate")], (2, 4), [], []),
    ("Trail food", "Freeze-Dried Meal", "{a} freeze-dried meal, just add hot water; {f}.",
     [("vegan",), ("gluten-free",), ("vegetarian",)], (7, 14), [], []),
]
FILLINGS = {"down": "responsibly sourced down", "synthetic": "synthetic insulation", "recycled": "recycled fibres",
            "wool": "wool", "merino": "merino wool", "leather": "full-grain leather", "suede": "suede",
            "vegan": "vegan microfibre", "cotton": "organic cotton", "steel": "stainless steel", "gas": "gas",
            "multi-fuel": "gas or petrol", "chocolate": "with dark chocolate", "gluten-free": "gluten-free",
            "vegetarian": "vegetarian", "lightweight": "lightweight fabric", "waterproof": "waterproof fabric"}
BRANDS = ["Fjellro", "Kestrel", "Tarn", "Ridgeway", "Corrie", "Bothy", "Scree", "Cairn", "Moraine", "Larch",
          "Heron", "Tor", "Bracken", "Ness", "Gorse", "Fell"]
MODELS = ["Trail", "Summit", "Valley", "Ridge", "Peak", "Glen", "Loch", "Crag", "Beacon", "Dale", "Moor",
          "Pass", "Gill", "Brae", "Combe", "Holt"]


@dataclass(frozen=True)
class GeneratedProduct:
    sku: str
    name: str
    category: str
    attributes: frozenset[str]
    price_minor: int
    sizes: tuple[str, ...]
    colours: tuple[str, ...]
    # (size, colour, stock) per variant
    variants: tuple[tuple[str, str, int], ...]
    description: str

    @property
    def in_stock(self) -> bool:
        return any(stock > 0 for _size, _colour, stock in self.variants)


def outdoor_products(count: int, *, seed: int = 25, max_variants: int | None = None) -> list[GeneratedProduct]:
    """`count` products; `max_variants` caps each one's variants (the benchmark's large catalogs)."""
    rng = random.Random(seed)
    products = []
    for number in range(count):
        category, kind, description, attribute_sets, (low, high), sizes, colours = TEMPLATES[number % len(TEMPLATES)]
        attributes = attribute_sets[(number // len(TEMPLATES)) % len(attribute_sets)]
        brand = BRANDS[(number // len(TEMPLATES)) % len(BRANDS)]
        model = MODELS[(number // (len(TEMPLATES) * len(BRANDS))) % len(MODELS)]
        series = number // (len(TEMPLATES) * len(BRANDS) * len(MODELS))
        name = f"{brand} {model}{f' {series + 1}' if series else ''} {kind}"
        price_minor = (low + (number * 37) % (high - low + 1)) * 100 - (5 if high > 10 else 0)
        adjective = " ".join(word.capitalize() if index == 0 else word for index, word in enumerate(
            a for a in attributes if a not in ("2-person", "4-person", "1-person")))
        people = {"2-person": 2, "4-person": 4, "1-person": 1}.get(attributes[0], 2)
        filling = " and ".join(attributes) if category == "Trail food" else \
            next((FILLINGS[a] for a in attributes if a in FILLINGS), "durable fabric")
        text = description.format(a=adjective or "Reliable", people=people, w=1 + number % 3, s=3 + number % 2,
                                  f=filling, t=-5 - number % 10, l=20 + number % 40, m=3 + number % 5)
        chosen_sizes = tuple(sizes) if sizes else ("",)
        chosen_colours = tuple(colours[: 1 + number % max(1, len(colours))]) if colours else ("",)
        variants = tuple((size, colour, 0 if rng.random() < 0.15 else rng.randint(1, 30))
                         for colour in chosen_colours for size in chosen_sizes)[:max_variants]
        products.append(GeneratedProduct(
            sku=f"OD-{number:06d}", name=name, category=category, attributes=frozenset(attributes),
            price_minor=price_minor, sizes=tuple(s for s in chosen_sizes if s),
            colours=tuple(c for c in chosen_colours if c), variants=variants, description=text))
    return products


def outdoor_catalog_csv(products: list[GeneratedProduct]) -> str:
    """The products as the catalog import's CSV."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["product_sku", "name", "category", "description", "price", "currency", "synonyms",
                     "variant_sku", "size", "colour", "stock"])
    for product in products:
        for index, (size, colour, stock) in enumerate(product.variants):
            writer.writerow([product.sku, product.name, product.category, product.description,
                             f"{product.price_minor / 100:.2f}", "EUR", "", f"{product.sku}-{index}", size, colour,
                             stock])
    return out.getvalue()
OUTDOOR_PRODUCTS_FOR_TESTS = 300
