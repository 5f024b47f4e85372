"""How far the product vectors are: ok / failed / pending rows of the maintained encoder versions
(the active one and any being built) against the catalog size."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from recommender.catalog import get_adapter
from recommender.models import ModelVersion, ProductVector


@dataclass
class VersionProgress:
    version: ModelVersion
    catalog: int
    ok: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def done(self) -> int:
        return self.ok + self.failed

    @property
    def missing(self) -> int:
        """Products with no row at all in this version yet."""
        return max(self.catalog - self.done - self.pending, 0)

    @property
    def fraction(self) -> float:
        return min(self.done / self.catalog, 1.0) if self.catalog else 1.0

    @property
    def complete(self) -> bool:
        return self.pending == 0 and self.done >= self.catalog

    def percent(self, count: int) -> float:
        """Share of the catalog, for the stacked bar's segment widths."""
        return min(100.0 * count / self.catalog, 100.0) if self.catalog else 0.0

    @property
    def ok_percent(self) -> float:
        return self.percent(self.ok)

    @property
    def failed_percent(self) -> float:
        return self.percent(self.failed)

    @property
    def pending_percent(self) -> float:
        return self.percent(self.pending)


@dataclass
class IndexStatus:
    catalog: int
    versions: list[VersionProgress] = field(default_factory=list)

    @property
    def building(self) -> bool:
        return any(p.version.state == ModelVersion.State.BUILDING for p in self.versions)

    @property
    def busy(self) -> bool:
        """Something is (or should be) embedding: worth refreshing the page for."""
        return self.building or any(p.pending for p in self.versions)

    @property
    def complete(self) -> bool:
        return bool(self.versions) and all(p.complete for p in self.versions)


def version_progress(version: ModelVersion, catalog: int) -> VersionProgress:
    rows = ProductVector.objects.filter(version=version).values("status").annotate(n=Count("id")).order_by()
    counts = {row["status"]: row["n"] for row in rows}
    return VersionProgress(
        version=version,
        catalog=catalog,
        ok=counts.get(ProductVector.Status.OK, 0),
        failed=counts.get(ProductVector.Status.FAILED, 0),
        pending=counts.get(ProductVector.Status.PENDING, 0),
    )


def catalog_size() -> int:
    return get_adapter().get_queryset().count()


def index_status() -> IndexStatus:
    """Progress of the active and building encoder versions."""
    catalog = catalog_size()
    return IndexStatus(
        catalog=catalog, versions=[version_progress(v, catalog) for v in ModelVersion.objects.maintained()]
    )
