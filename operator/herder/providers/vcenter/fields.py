"""herder's custom field `herder.dev/ecs-uid`, which marks adopted VMs with the owning ECS's UID."""

from __future__ import annotations

import threading
from typing import Any

from pyVmomi import vim

from herder.providers.vcenter.observe import OWNER_FIELD

# The key a read uses when the field is not defined (read-only): no VM carries a value under it.
UNDEFINED = -1


class OwnerField:
    """The field's key, defined in vCenter on first use and cached. Run inside `Session.call`.

    `read_only`: never define it (herder plan); while it is not defined, no VM is marked."""

    def __init__(self, *, read_only: bool = False) -> None:
        self._key: int | None = None
        self._lock = threading.Lock()
        self._read_only = read_only

    def key(self, content: Any) -> int:
        with self._lock:
            if self._key is None:
                self._key = self._find(content) or (UNDEFINED if self._read_only else self._define(content))
            return self._key

    @staticmethod
    def _find(content: Any) -> int | None:
        for field in content.customFieldsManager.field or ():
            if field.name == OWNER_FIELD and field.managedObjectType in (None, vim.VirtualMachine):
                return int(field.key)
        return None

    def _define(self, content: Any) -> int:
        try:
            return int(content.customFieldsManager.AddCustomFieldDef(name=OWNER_FIELD, moType=vim.VirtualMachine).key)
        except vim.fault.DuplicateName:
            # Another herder (or a retry) defined it meanwhile.
            key = self._find(content)
            if key is None:
                raise
            return key

    def set(self, content: Any, vm: Any, value: str) -> None:
        content.customFieldsManager.SetField(entity=vm, key=self.key(content), value=value)
