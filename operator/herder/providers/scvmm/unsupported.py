"""What herder cannot do on SCVMM yet: each call says so with a typed NotSupported."""

from __future__ import annotations

from herder.errors import NotSupported
from herder.providers.types import ObservedPool, PoolSpec


class SCVMMPools:
    """Resource pools are a vCenter concept here; SCVMM's clouds are not managed by herder yet."""

    @staticmethod
    def _refuse() -> NotSupported:
        return NotSupported("ResourcePools are not supported on SCVMM zones yet (clouds are managed in VMM)")

    def ensure(self, spec: PoolSpec, known_ref: str | None = None) -> ObservedPool:
        raise self._refuse()

    def observe(self, ref: str) -> ObservedPool | None:
        raise self._refuse()

    def delete(self, ref: str) -> None:
        raise self._refuse()
