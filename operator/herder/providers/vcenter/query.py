"""One-shot property reads through the shared PropertyCollector (RetrievePropertiesEx, never polling).

Callers run these inside `Session.call`, which handles re-login and error translation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyVmomi import vim, vmodl

_FilterSpec: Any = vmodl.query.PropertyCollector.FilterSpec
_ObjectSpec: Any = vmodl.query.PropertyCollector.ObjectSpec
_PropertySpec: Any = vmodl.query.PropertyCollector.PropertySpec
_TraversalSpec: Any = vmodl.query.PropertyCollector.TraversalSpec
_RetrieveOptions: Any = vmodl.query.PropertyCollector.RetrieveOptions


def view_filter(view: Any, vim_type: Any, paths: Sequence[str]) -> Any:
    """A filter over every object of a ContainerView (the view itself is skipped)."""
    traverse = _TraversalSpec(name="view", type=vim.view.ContainerView, path="view", skip=False)
    return _FilterSpec(
        objectSet=[_ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
        propSet=[_PropertySpec(type=vim_type, pathSet=list(paths))],
    )


def _collect(content: Any, spec: Any) -> list[tuple[Any, dict[str, Any]]]:
    collector = content.propertyCollector
    result = collector.RetrievePropertiesEx(specSet=[spec], options=_RetrieveOptions())
    found: list[tuple[Any, dict[str, Any]]] = []
    while result is not None:
        found += [(obj.obj, {p.name: p.val for p in obj.propSet or ()}) for obj in result.objects or ()]
        if not result.token:
            break
        result = collector.ContinueRetrievePropertiesEx(token=result.token)
    return found


def properties(content: Any, obj: Any, paths: Sequence[str]) -> dict[str, Any]:
    """The given properties of one object; ManagedObjectNotFound if it is gone."""
    spec = _FilterSpec(
        objectSet=[_ObjectSpec(obj=obj, skip=False)],
        propSet=[_PropertySpec(type=type(obj), pathSet=list(paths))],
    )
    found = _collect(content, spec)
    return found[0][1] if found else {}


def many(content: Any, objs: Sequence[Any], paths: Sequence[str]) -> list[tuple[Any, dict[str, Any]]]:
    """The given properties of several objects of one type, in one call; gone ones are left out."""
    if not objs:
        return []
    spec = _FilterSpec(objectSet=[_ObjectSpec(obj=obj, skip=False) for obj in objs],
                       propSet=[_PropertySpec(type=type(objs[0]), pathSet=list(paths))])
    return _collect(content, spec)


def all_of_type(content: Any, root: Any, vim_type: Any, paths: Sequence[str]) -> list[tuple[Any, dict[str, Any]]]:
    """Properties of every `vim_type` object below `root`, in one temporary ContainerView."""
    view = content.viewManager.CreateContainerView(container=root, type=[vim_type], recursive=True)
    try:
        return _collect(content, view_filter(view, vim_type, paths))
    finally:
        view.DestroyView()


def related(content: Any, obj: Any, path: str, vim_type: Any, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Properties of the objects `obj.<path>` refers to (e.g. a cluster's `host`), in one call."""
    traverse = _TraversalSpec(name=path, type=type(obj), path=path, skip=False)
    spec = _FilterSpec(objectSet=[_ObjectSpec(obj=obj, skip=True, selectSet=[traverse])],
                       propSet=[_PropertySpec(type=vim_type, pathSet=list(paths))])
    return [props for _, props in _collect(content, spec)]


def by_name(content: Any, root: Any, vim_type: Any, name: str) -> list[Any]:
    return [obj for obj, props in all_of_type(content, root, vim_type, ["name"]) if props.get("name") == name]


# Servers known to lack SearchIndex.FindAllByUuid (vcsim): asked once, then not again.
_WITHOUT_FIND_ALL: set[str] = set()


def vms_by_instance_uuid(content: Any, datacenter: Any, instance_uuid: str) -> list[Any]:
    """Every VM with this instance UUID. Servers without FindAllByUuid (vcsim) answer at most one."""
    index = content.searchIndex
    server = str(content.about.instanceUuid)
    found: Any = None
    if server not in _WITHOUT_FIND_ALL:
        try:
            found = index.FindAllByUuid(datacenter=datacenter, uuid=instance_uuid, vmSearch=True, instanceUuid=True)
        except vmodl.fault.MethodNotFound:
            _WITHOUT_FIND_ALL.add(server)
    if server in _WITHOUT_FIND_ALL:
        one = index.FindByUuid(datacenter=datacenter, uuid=instance_uuid, vmSearch=True, instanceUuid=True)
        found = [one] if one is not None else []
    return [vm for vm in found or () if isinstance(vm, vim.VirtualMachine)]
