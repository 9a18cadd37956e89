"""What herder cannot do on SCVMM yet: each call says so with a typed NotSupported."""

from __future__ import annotations

from collections.abc import Callable

from herder.errors import NotSupported
from herder.providers.types import ObservedVM, Placement, TaskRef, TaskResult, TemplateInfo


class SCVMMImages:
    """Library templates and VHDX imports are not managed by herder on SCVMM yet."""

    @staticmethod
    def _refuse() -> NotSupported:
        return NotSupported("images are not supported on SCVMM yet (source.existing templates are used by name "
                            "as given)")

    def find_template(self, ref: str) -> TemplateInfo | None:
        raise self._refuse()

    def capture(self, vm: ObservedVM, name: str, uid: str, placement: Placement) -> TaskRef:
        raise self._refuse()

    def import_ovf(self, url: str, checksum: str, name: str, uid: str, placement: Placement, *, packaged: bool,
                   progress: Callable[[int], bool]) -> TemplateInfo:
        raise self._refuse()

    def destroy_template(self, unique_id: str) -> TaskRef:
        raise self._refuse()

    def task(self, task: TaskRef) -> TaskResult:
        raise self._refuse()
