"""kube.ignoring: the one place that decides which API errors a caller may treat as 'already so'; and which
refusals of a status write are a wait, not a failure."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from herder import kube
from herder.errors import KubernetesForbidden


def test_listed_statuses_are_suppressed() -> None:
    for status in (404, 409):
        with kube.ignoring(404, 409):
            raise ApiException(status=status)


def test_other_statuses_and_other_errors_pass_through() -> None:
    with pytest.raises(ApiException) as raised, kube.ignoring(404):
        raise ApiException(status=403)
    assert raised.value.status == 403
    with pytest.raises(ValueError), kube.ignoring(404):
        raise ValueError("not an API error")


class _Refusing:
    """A CustomObjectsApi whose status patches the API server refuses with `status`."""

    def __init__(self, status: int) -> None:
        self.status = status

    def patch_cluster_custom_object_status(self, *_: object) -> None:
        raise ApiException(status=self.status, reason="Forbidden" if self.status == 403 else "Error")


def test_a_forbidden_status_write_waits_like_an_absent_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API server that has just restarted refuses requests (403) while its authorizer catches up: the daemon
    keeps the status and writes it later, instead of failing (Kopf would not run it again for a minute)."""
    monkeypatch.setattr(kube, "_api_client", lambda: None)
    monkeypatch.setattr(kube.kubernetes.client, "CustomObjectsApi", lambda _: _Refusing(403))
    with pytest.raises(KubernetesForbidden, match="403"):
        kube.patch_status("availabilityzones", None, "zone-a", {"phase": "Ready"})
    monkeypatch.setattr(kube.kubernetes.client, "CustomObjectsApi", lambda _: _Refusing(422))
    with pytest.raises(ApiException):  # an invalid status is not a wait
        kube.patch_status("availabilityzones", None, "zone-a", {"phase": "Ready"})
