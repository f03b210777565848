"""Which store an order goes to: pure functions over the member stores, no database.

1. the member's **home store**, when it is a member store not tried yet for this order (and, stock-aware, holds
   the products);
2. else the store where she **last bought**, on the same terms;
3. else the **nearest** member store not tried yet (and holding the products, stock-aware), within the policy's
   reach.

The nearest is found with scipy's ``cKDTree`` over the stores projected onto the unit sphere (x, y, z): the chord
between two points grows with the great-circle distance, so the nearest by chord is the nearest on the ground, and no
latitude distorts it as a flat projection would. ``brute_force_nearest`` is the same answer by looking at every store
(for the tests and the benchmark).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EARTH_RADIUS_KM",
    "Choice",
    "Site",
    "StoreIndex",
    "brute_force_nearest",
    "choose",
    "haversine_km",
    "project",
]

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Site:
    """A member store and where it is."""

    id: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Choice:
    """The store chosen, the machine reason (``home_store``, ``last_store``, ``nearest``, ``nearest_with_stock``),
    and how far it is from the delivery address (None when the store has no coordinates)."""

    store_id: str
    reason: str
    distance_km: float | None


def project(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points on the unit sphere (x, y, z) for latitudes and longitudes in degrees."""
    phi, lam = np.radians(lat), np.radians(lon)
    cos_phi = np.cos(phi)
    return np.column_stack((cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)))


def _chord_to_km(chord: float) -> float:
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, chord / 2))


def _km_to_chord(km: float) -> float:
    return 2 * math.sin(min(math.pi / 2, km / (2 * EARTH_RADIUS_KM)))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class StoreIndex:
    """The member stores with coordinates, in a k-d tree; built once, asked many times."""

    def __init__(self, sites: Sequence[Site]) -> None:
        self.sites = list(sites)
        self._by_id = {s.id: s for s in self.sites}
        self._tree: Any = None  # scipy.spatial.cKDTree, built (and scipy imported) on the first look-up
        if self.sites:
            lat = np.fromiter((s.lat for s in self.sites), dtype=np.float64, count=len(self.sites))
            lon = np.fromiter((s.lon for s in self.sites), dtype=np.float64, count=len(self.sites))
            # Imported here: scipy costs a server ~25 MB of memory, which only routing needs.
            from scipy.spatial import cKDTree

            self._tree = cKDTree(project(lat, lon))

    def __len__(self) -> int:
        return len(self.sites)

    def __contains__(self, store_id: object) -> bool:
        return store_id in self._by_id

    def distance_km(self, store_id: str, lat: float, lon: float) -> float | None:
        """How far a store of the index is from a point (None when it is not in the index)."""
        site = self._by_id.get(store_id)
        return None if site is None else haversine_km(site.lat, site.lon, lat, lon)

    def nearest(
        self,
        lat: float,
        lon: float,
        *,
        skip: Collection[str] = (),
        allowed: Callable[[str], bool] | None = None,
        max_km: float | None = None,
    ) -> tuple[str, float] | None:
        """The nearest store not in ``skip`` that ``allowed`` admits, within ``max_km``, and its distance in km.

        Asks the tree for the nearest few and widens the ask (×4) until one qualifies, so skipping the handful of
        stores that declined costs a few more neighbours, never a scan of every store.
        """
        if self._tree is None:
            return None
        n = len(self.sites)
        point = project(np.array([lat]), np.array([lon]))[0]
        bound = _km_to_chord(max_km) * (1 + 1e-9) if max_km is not None else np.inf
        k = min(n, 8 + len(skip))
        while True:
            dist, idx = self._tree.query(point, k=k, distance_upper_bound=bound)
            dists, idxs = np.atleast_1d(dist), np.atleast_1d(idx)
            for d, i in zip(dists.tolist(), idxs.tolist(), strict=True):
                if i >= n:  # beyond max_km: the tree pads with n
                    return None
                store = self.sites[i].id
                if store in skip or (allowed is not None and not allowed(store)):
                    continue
                return store, _chord_to_km(d)
            if k >= n:
                return None
            k = min(n, k * 4)

    def nearest_many(self, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> list[str]:
        """The nearest store of each point, skipping none (one vectorised ask: the benchmark's hot path)."""
        if self._tree is None:
            return []
        _, idx = self._tree.query(project(lat, lon), k=1)
        return [self.sites[i].id for i in np.atleast_1d(idx).tolist()]


def brute_force_nearest(
    sites: Sequence[Site], lat: float, lon: float, *, skip: Collection[str] = ()
) -> tuple[str, float] | None:
    """The nearest store by measuring the distance to every one: what the tree must agree with."""
    best: tuple[str, float] | None = None
    for s in sites:
        if s.id in skip:
            continue
        d = haversine_km(lat, lon, s.lat, s.lon)
        if best is None or d < best[1]:
            best = (s.id, d)
    return best


def choose(
    *,
    lat: float,
    lon: float,
    index: StoreIndex,
    member_stores: Collection[str],
    tried: Collection[str],
    home_store: str | None = None,
    last_store: str | None = None,
    has_stock: Callable[[str], bool] | None = None,
    max_km: float | None = None,
) -> Choice | None:
    """The store an order goes to next (see the module), or None when no member store is left."""
    for store, reason in ((home_store, "home_store"), (last_store, "last_store")):
        if store is None or store not in member_stores or store in tried:
            continue
        if has_stock is not None and not has_stock(store):
            continue
        return Choice(store, reason, index.distance_km(store, lat, lon))
    found = index.nearest(lat, lon, skip=tried, allowed=has_stock, max_km=max_km)
    if found is None:
        return None
    return Choice(found[0], "nearest" if has_stock is None else "nearest_with_stock", round(found[1], 3))
