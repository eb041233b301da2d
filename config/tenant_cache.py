"""One in-process value per tenant, rebuilt when the tenant's content version changes.

Bounded: a process serving many tenants keeps only the most recently used ones, so a platform with
thousands of businesses does not hold an index for each of them in every web and worker process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.db import connection

T = TypeVar("T")


class PerTenantCache(Generic[T]):
    def __init__(self, *, tenants: int = 64) -> None:
        self.tenants = tenants
        self._values: OrderedDict[str, tuple[Hashable, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: Hashable, build: Callable[[], T]) -> T:
        """The current tenant's value for `version`, built (outside the lock) when missing or stale."""
        schema = str(connection.schema_name)
        with self._lock:
            cached = self._values.get(schema)
            if cached is not None and cached[0] == version:
                self._values.move_to_end(schema)
                return cached[1]
        value = build()
        with self._lock:
            self._values[schema] = (version, value)
            self._values.move_to_end(schema)
            while len(self._values) > self.tenants:
                self._values.popitem(last=False)
        return value
