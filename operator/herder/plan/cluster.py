"""The Kubernetes API as herder plan sees it: reads, and writes that are dry runs.

Read-only by construction: every request here is a GET, except `dry_run`, which always sends `dryRun=All`
(the API server validates, defaults and admits the object, and stores nothing). Nothing else in herder plan
holds a Kubernetes client. The client is built from the kubeconfig (`--kubeconfig`, `--context`) or, inside a
pod, from its service account, and may impersonate (`--as`, `--as-group`) as kubectl does.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION
from herder.api.metadata import KindInfo, Scope
from herder.errors import SecretUnavailable

FIELD_MANAGER = "herder-plan"


class Rejected(Exception):
    """The API server refused the object; `str()` is its own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Unavailable(Exception):
    """The API server could not be asked (no kubeconfig, not reachable, not allowed to read what a plan needs)."""


@dataclass(frozen=True)
class Access:
    kubeconfig: str | None = None
    context: str | None = None
    as_user: str | None = None
    as_group: str | None = None


def _message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.reason)
    except (ValueError, AttributeError):
        return f"{exc.status} {exc.reason}"


class Cluster:
    def __init__(self, access: Access) -> None:
        try:
            if access.kubeconfig is None and access.context is None and _in_cluster():
                kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
                client = kubernetes.client.ApiClient()
            else:
                client = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=access.kubeconfig, context=access.context)
        except (kubernetes.config.ConfigException, OSError) as exc:
            raise Unavailable(f"no Kubernetes configuration: {exc}") from None
        if access.as_user:
            client.set_default_header("Impersonate-User", access.as_user)  # type: ignore[no-untyped-call]
        if access.as_group:
            client.set_default_header("Impersonate-Group", access.as_group)  # type: ignore[no-untyped-call]
        self._client = client
        self._objects = kubernetes.client.CustomObjectsApi(client)
        self._core = kubernetes.client.CoreV1Api(client)
        self.default_namespace = _context_namespace(access) or "default"

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if exc.status in {401, 403}:
                raise Unavailable(f"{what}: {_message(exc)}") from None
            raise
        except (OSError, kubernetes.client.exceptions.OpenApiException) as exc:
            raise Unavailable(f"{what}: the Kubernetes API is not reachable ({type(exc).__name__})") from None

    def get(self, info: KindInfo, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            if info.scope is Scope.NAMESPACED:
                found = self._call(f"read {info.kind} {namespace}/{name}", self._objects.get_namespaced_custom_object,
                                   GROUP, VERSION, namespace, info.plural, name)
            else:
                found = self._call(f"read {info.kind} {name}", self._objects.get_cluster_custom_object, GROUP,
                                   VERSION, info.plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise Unavailable(f"read {info.kind} {name}: {_message(exc)}") from None
        return dict(found)

    def list(self, info: KindInfo, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        """Every object of a kind (in `namespace`, else everywhere), with `kind` and `apiVersion` filled in."""
        what = f"list {info.plural}"
        try:
            if namespace is not None and info.scope is Scope.NAMESPACED:
                found = self._call(what, self._objects.list_namespaced_custom_object, GROUP, VERSION, namespace,
                                   info.plural, label_selector=selector)
            else:
                found = self._call(what, self._objects.list_cluster_custom_object, GROUP, VERSION, info.plural,
                                   label_selector=selector)
        except ApiException as exc:
            if exc.status == 404:  # the CRD is not installed: there are none
                return []
            raise Unavailable(f"{what}: {_message(exc)}") from None
        return [{"apiVersion": info.api_version, "kind": info.kind, **item} for item in found.get("items") or []]

    def namespace_labels(self) -> dict[str, dict[str, str]]:
        found = self._call("list namespaces (for namespace selectors)", self._core.list_namespace)
        return {ns.metadata.name: dict(ns.metadata.labels or {}) for ns in found.items}

    def secret(self, namespace: str, name: str, keys: tuple[str, ...]) -> dict[str, str]:
        """The decoded values of `keys` of one Secret, read by name as the operator reads it."""
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise SecretUnavailable(f"Secret {namespace}/{name} not found") from None
            if exc.status == 403:
                raise SecretUnavailable(f"herder plan may not read Secret {namespace}/{name} (forbidden): grant "
                                        "get on it, or plan --as someone who may") from None
            raise SecretUnavailable(f"Secret {namespace}/{name}: {_message(exc)}") from None
        data = secret.data or {}
        missing = [key for key in keys if key not in data]
        if missing:
            raise SecretUnavailable(f"Secret {namespace}/{name} has no key {', '.join(missing)}")
        return {key: base64.b64decode(data[key]).decode() for key in keys}

    def dry_run(self, info: KindInfo, body: dict[str, Any], exists: bool) -> dict[str, Any]:
        """The object as the API server would store it (defaults, admission), without storing it: a create, or a
        replace of the live object (`body` carries its resourceVersion). Raises Rejected with the server's own
        message; Unavailable when dry runs are not allowed (they need create/update rights, see docs)."""
        meta = body.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        options = {"dry_run": "All", "field_manager": FIELD_MANAGER, "field_validation": "Strict"}
        what = f"dry run of {info.kind} {name}"
        try:
            if info.scope is Scope.NAMESPACED:
                if exists:
                    found = self._call(what, self._objects.replace_namespaced_custom_object, GROUP, VERSION,
                                       namespace, info.plural, name, body, **options)
                else:
                    found = self._call(what, self._objects.create_namespaced_custom_object, GROUP, VERSION,
                                       namespace, info.plural, body, **options)
            elif exists:
                found = self._call(what, self._objects.replace_cluster_custom_object, GROUP, VERSION, info.plural,
                                   name, body, **options)
            else:
                found = self._call(what, self._objects.create_cluster_custom_object, GROUP, VERSION, info.plural,
                                   body, **options)
        except ApiException as exc:
            raise Rejected(exc.status, _message(exc)) from None
        return dict(found)


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.environ.get("KUBECONFIG")


def _context_namespace(access: Access) -> str | None:
    try:
        contexts, current = kubernetes.config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=access.kubeconfig)
    except (kubernetes.config.ConfigException, OSError):
        return None
    chosen = next((c for c in contexts if c.get("name") == access.context), current) if access.context else current
    return str((chosen or {}).get("context", {}).get("namespace") or "") or None
