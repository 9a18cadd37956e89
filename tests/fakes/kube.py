"""A stand-in for `herder.kube` (the few Kubernetes calls herder makes outside Kopf): objects in a dict, every
call recorded. It keeps those functions' contracts: a read of what is missing is None, a create of what exists
and a delete of what is gone are fine, a merge patch carrying a stale resourceVersion is a 409 and a failed
JSON-patch test a 422; and the API server's bookkeeping: uid, generation (a spec change bumps it),
resourceVersion."""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

import jsonpatch
import pytest
from kubernetes.client.exceptions import ApiException

from herder import kube
from herder.errors import SecretUnavailable

Key = tuple[str, str, str]  # (plural, namespace, name)


def _merged(target: Any, patch: Any) -> Any:
    """RFC 7386 merge patch: None removes a key."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merged(result.get(key), value)
    return result


class FakeKube:
    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, plural, name)
        self._versions = itertools.count(1)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeKube:
        for name in ("read_secret", "read_custom_object", "patch_custom_object", "create_custom_object",
                     "delete_custom_object"):
            monkeypatch.setattr(kube, name, getattr(self, name))
        return self

    # -- the test's side ----------------------------------------------------------------------------------------
    def put(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store `body` as the API server would (a new resourceVersion); returns the stored copy."""
        meta = body["metadata"]
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[(plural, meta.get("namespace") or "", meta["name"])] = stored
        return copy.deepcopy(stored)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((plural, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def verbs(self, plural: str) -> list[tuple[str, str]]:
        return [(verb, name) for verb, kind, name in self.calls if kind == plural]

    # -- herder.kube ------------------------------------------------------------------------------------------
    def read_secret(self, namespace: str, name: str, keys: tuple[str, ...]) -> dict[str, str]:
        self.calls.append(("read", "secrets", name))
        data = self.secrets.get((namespace, name))
        if data is None:
            raise SecretUnavailable(f"Secret {namespace}/{name} not found")
        missing = [key for key in keys if key not in data]
        if missing:
            raise SecretUnavailable(f"Secret {namespace}/{name} has no key {', '.join(missing)}")
        return {key: data[key] for key in keys}

    def read_custom_object(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.calls.append(("read", plural, name))
        return self.get(plural, namespace or "", name)

    def patch_custom_object(self, plural: str, namespace: str | None, name: str, body: Any, *,
                            json_patch: bool = False) -> None:
        self.calls.append(("patch", plural, name))
        current = self.objects.get((plural, namespace or "", name))
        if current is None:
            raise ApiException(status=404, reason="Not Found")
        if json_patch:
            try:
                patched = jsonpatch.apply_patch(current, body)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise ApiException(status=422, reason=str(exc)) from None
        else:
            version = (body.get("metadata") or {}).get("resourceVersion")
            if version is not None and version != current["metadata"]["resourceVersion"]:
                raise ApiException(status=409, reason="Conflict")
            patched = _merged(current, body)
        if patched.get("spec") != current.get("spec"):
            patched["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        self.put(plural, patched)

    def create_custom_object(self, plural: str, namespace: str, body: dict[str, Any]) -> None:
        self.calls.append(("create", plural, body["metadata"]["name"]))
        if (plural, namespace, body["metadata"]["name"]) not in self.objects:
            made = {"namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1}
            self.put(plural, {**body, "metadata": {**body["metadata"], **made}})

    def delete_custom_object(self, plural: str, namespace: str, name: str) -> None:
        self.calls.append(("delete", plural, name))
        self.objects.pop((plural, namespace, name), None)
