import pytest
from django_tenants.utils import schema_context

QS = {"shop": ["something warm for winter", "trousers that aren't jeans", "something for when it rains",
               "shoes for everyday", "a gift under 25 euros", "a jacket under 100 euros", "anything in wool?",
               "hoodie in navy size XL", "something waterproof", "iets warms voor de winter", "a dress for summer",
               "between 20 and 30 euros", "under €100", "exactly up to €100"],
      "cafe": ["anything sweet with chocolate?", "do you have any pastries?", "anything vegan for breakfast?",
               "something gluten-free", "less than a tenner for lunch", "a cold drink", "something without caffeine"]}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("folder", ["shop", "cafe"])
def test_probe(folder):
    import time
    from tests.orders.conftest import demo_tenant
    from chat.knowledge.product_vectors import product_vectors_refresh, product_discovery
    t = demo_tenant(folder, "Europe/Amsterdam")
    with schema_context(t.schema_name):
        start = time.perf_counter()
        print("embedded", product_vectors_refresh(), time.perf_counter() - start)
        for q in QS[folder]:
            for mode in ("hybrid",):
                r = product_discovery(query=q, mode=mode)
                print(f"\n{q!r} [{mode}] filters={r.filters.as_dict()} rest={r.filters.rest!r}")
                for p in r.products:
                    print(f"   {p.name} {p.price_text} {p.availability} s={p.score:.3f} v={p.vector_score} t={p.text_score:.2f}")
