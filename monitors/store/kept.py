"""What an instance keeps in memory per tenant: the newest value of the last few tenants used.

The verdict store keeps each tenant's committed state and the guardrail each tenant's parsed
snapshot model; both keep a bounded number of tenants, least recently used first out, and
never let an older value (a slower concurrent writer's) replace a newer one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class NewestPerTenant(Generic[V]):
    """The newest value per tenant for at most `limit` tenants (0 keeps none); thread-safe.

    `version` orders two values of one tenant: `put` leaves a newer kept value in place.
    """

    def __init__(self, limit: int, version: Callable[[V], int]) -> None:
        if limit < 0:
            raise ValueError("the number of tenants kept must not be negative")
        self.limit = limit
        self._version = version
        self._values: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant: str, usable: Callable[[V], bool] = lambda _: True) -> V | None:
        """The tenant's value if it is kept and `usable`, marked as the most recently used."""
        with self._lock:
            value = self._values.get(tenant)
            if value is None or not usable(value):
                return None
            self._values.move_to_end(tenant)
            return value

    def put(self, tenant: str, value: V) -> None:
        with self._lock:
            current = self._values.get(tenant)
            if current is not None and self._version(current) > self._version(value):
                return  # a newer value of this tenant is kept already
            self._values[tenant] = value
            self._values.move_to_end(tenant)
            while len(self._values) > self.limit:
                self._values.popitem(last=False)

    def __getitem__(self, tenant: str) -> V:
        """The tenant's kept value (KeyError if none), its place in the order unchanged."""
        with self._lock:
            return self._values[tenant]

    def pop(self, tenant: str) -> V | None:
        with self._lock:
            return self._values.pop(tenant, None)

    def tenants(self) -> tuple[str, ...]:
        """The tenants kept, least recently used first."""
        with self._lock:
            return tuple(self._values)
