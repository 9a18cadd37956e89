"""The few Kubernetes calls herder makes outside Kopf: status patches, Secret reads by name, its own objects.

A Kubernetes API that does not answer (a restart, a switch-over behind a load balancer) raises
KubernetesUnavailable from every call here, so callers can wait for it instead of failing the object.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from collections.abc import Iterator
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from herder import GROUP, VERSION
from herder.errors import KubernetesForbidden, KubernetesUnavailable, SecretUnavailable

# HTTP statuses of an API server that is starting, overloaded or behind a switching load balancer.
_UNAVAILABLE = frozenset({0, 429, 500, 502, 503, 504})


@contextlib.contextmanager
def _available(*, forbidden: bool = False) -> Iterator[None]:
    """Turn a Kubernetes API that does not answer into KubernetesUnavailable; with `forbidden`, a 403 into
    KubernetesForbidden."""
    try:
        yield
    except ApiException as exc:
        if forbidden and exc.status == 403:
            raise KubernetesForbidden(f"the Kubernetes API refused the status write: {refusal(exc)}") from None
        if exc.status in _UNAVAILABLE:
            raise KubernetesUnavailable(f"the Kubernetes API answered {exc.status} {exc.reason}") from None
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubernetesUnavailable(f"the Kubernetes API is not reachable: {type(exc).__name__}") from None


# Status patches come from every worker thread at once: one pooled connection each, so that a burst does not
# open (and TLS-handshake) a new connection per write.
CONNECTIONS = 64


@functools.cache
def _api_client() -> Any:
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = CONNECTIONS
    return kubernetes.client.ApiClient(configuration)


def patch_status(plural: str, namespace: str | None, name: str, status: dict[str, Any]) -> None:
    """Merge-patch `.status`; keys set to None are removed. A 403 raises KubernetesForbidden, which the daemons
    wait out for a while like an absent API: status is where herder reports a refusal, so it cannot report this
    one, and an API server that has just restarted refuses requests for a moment while its authorizer catches up."""
    api = kubernetes.client.CustomObjectsApi(_api_client())
    body = {"status": status}
    with _available(forbidden=True):
        if namespace:
            api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, name, body)
        else:
            api.patch_cluster_custom_object_status(GROUP, VERSION, plural, name, body)


def refusal(exc: ApiException) -> str:
    """What the API server said when it refused a request: its Status message (e.g. which field is invalid, who
    may not do what), never the HTTP response."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else f"HTTP {exc.status} {exc.reason}"


@contextlib.contextmanager
def ignoring(*statuses: int) -> Iterator[None]:
    """Suppress API errors with these HTTP statuses (e.g. 404 for a delete of what is already gone)."""
    try:
        yield
    except ApiException as exc:
        if exc.status not in statuses:
            raise


def read_secret(namespace: str, name: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The decoded values of `keys` in a Secret. One GET by name: herder never lists Secrets."""
    api = kubernetes.client.CoreV1Api(_api_client())
    try:
        with _available():
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


def read_custom_object(plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    """One herder object by name (None if it does not exist): for the rare reads outside the indexes."""
    api = kubernetes.client.CustomObjectsApi(_api_client())
    with _available(), ignoring(404):
        body: Any = (api.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name) if namespace
                     else api.get_cluster_custom_object(GROUP, VERSION, plural, name))
        return dict(body)
    return None


def patch_custom_object(plural: str, namespace: str | None, name: str, body: Any, *, json_patch: bool = False) -> None:
    """Patch a herder object: a merge patch (a dict), or with `json_patch` a JSON patch (a list of operations)."""
    api = kubernetes.client.CustomObjectsApi(_api_client())
    content_type = "application/json-patch+json" if json_patch else None
    with _available():
        if namespace:
            api.patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, body,
                                               _content_type=content_type)
        else:
            api.patch_cluster_custom_object(GROUP, VERSION, plural, name, body, _content_type=content_type)


def patch_labels(plural: str, namespace: str | None, name: str, labels: dict[str, str | None]) -> None:
    """Merge-patch `metadata.labels` of a herder object; a None value removes the label."""
    patch_custom_object(plural, namespace, name, {"metadata": {"labels": labels}})


def create_custom_object(plural: str, namespace: str, body: dict[str, Any]) -> None:
    """Create a namespaced herder object; one that already exists is fine (a repeated pass)."""
    with _available(), ignoring(409):
        kubernetes.client.CustomObjectsApi(_api_client()).create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, body)


def delete_custom_object(plural: str, namespace: str, name: str) -> None:
    """Delete a namespaced herder object; one that is already gone is fine."""
    with _available(), ignoring(404):
        kubernetes.client.CustomObjectsApi(_api_client()).delete_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, name)


def read_config_map(namespace: str, name: str) -> tuple[dict[str, str], str] | None:
    """(its data, its resourceVersion); None when it does not exist."""
    api = kubernetes.client.CoreV1Api(_api_client())
    with _available(), ignoring(404):
        found = api.read_namespaced_config_map(name, namespace)
        return dict(found.data or {}), str(found.metadata.resource_version if found.metadata else "")
    return None


def write_config_map(namespace: str, name: str, data: dict[str, str], resource_version: str | None) -> bool:
    """Create it (`resource_version` None) or replace it if it is still at `resource_version`. False when
    someone got there first (409): read it again and retry."""
    api = kubernetes.client.CoreV1Api(_api_client())
    body = kubernetes.client.V1ConfigMap(data=data, metadata=kubernetes.client.V1ObjectMeta(
        name=name, namespace=namespace, resource_version=resource_version,
        labels={"app.kubernetes.io/part-of": "herder"}))
    with _available(), ignoring(409):
        if resource_version is None:
            api.create_namespaced_config_map(namespace, body)
        else:
            api.replace_namespaced_config_map(name, namespace, body)
        return True
    return False
