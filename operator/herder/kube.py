"""The few Kubernetes calls herder makes outside Kopf: status patches and Secret reads by name."""

from __future__ import annotations

import base64
import functools
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION


class SecretUnavailable(Exception):
    """A referenced Secret or key is missing. The message names the reference, never the contents."""


@functools.cache
def _api_client() -> Any:
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient()


def patch_status(plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> None:
    """Merge-patch `.status`; keys set to None are removed."""
    api = kubernetes.client.CustomObjectsApi(_api_client())
    body = {"status": status}
    if namespace:
        api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, name, body)
    else:
        api.patch_cluster_custom_object_status(GROUP, VERSION, plural, name, body)


def read_secret(namespace: str, name: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The decoded values of `keys` in a Secret. One GET by name: herder never lists Secrets."""
    api = kubernetes.client.CoreV1Api(_api_client())
    try:
        secret = api.read_namespaced_secret(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise SecretUnavailable(f"Secret {namespace}/{name} not found") from None
        if exc.status == 403:
            raise SecretUnavailable(f"herder may not read Secret {namespace}/{name} (forbidden)") from None
        raise
    data = secret.data or {}
    missing = [key for key in keys if key not in data]
    if missing:
        raise SecretUnavailable(f"Secret {namespace}/{name} has no key {', '.join(missing)}")
    return {key: base64.b64decode(data[key]).decode() for key in keys}
