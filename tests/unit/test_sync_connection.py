"""Endpoint connection passes with the fake provider as the built connection: connect once and keep it without
asking the backend anything, rebuild it when the credentials rotate, take it out of service when the backend
refuses the login or stops answering, and bring it back when it answers again."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from fakes.harness import VCENTER, Body, Harness, reason, server
from fakes.kube import FakeKube
from fakes.provider import FakeProvider
from herder.controllers.connection import endpoints
from herder.controllers.connection.endpoints import Endpoint
from herder.controllers.connection.sync import (
    CREDENTIALS_GRACE_SECONDS,
    CREDENTIALS_RECHECK_SECONDS,
    connect,
    connection_failed,
)
from herder.controllers.ecs.sync import server_failed, sync_server
from herder.errors import AuthenticationFailed, HerderError, ProviderNotReady, SecretUnavailable, Unreachable
from herder.providers.types import Credentials
from herder.reasons import Reason

SECRET = ("herder-system", "vc-credentials")


def vcenter() -> Body:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "VCenter",
            "metadata": {"name": VCENTER[1], "uid": "vcenter-uid", "generation": 1},
            "spec": {"server": "vc.example.com", "datacenter": "DC0",
                     "credentialsSecretRef": {"namespace": SECRET[0], "name": SECRET[1]}}}


class Builder:
    """The VCenter endpoint as herder reads it, building fake providers instead of pyVmomi sessions."""

    def __init__(self) -> None:
        self.built: list[FakeProvider] = []
        self.refuse_login: HerderError | None = None  # the next connection's login fails with it

    def endpoint_of(self, body: dict[str, Any]) -> Endpoint:
        return replace(endpoints.vcenter(body), build=self._build)

    def _build(self, credentials: Credentials) -> FakeProvider:
        self.built.append(FakeProvider(credentials))
        if self.refuse_login is not None:
            self.built[-1].fail_next("endpoint.info", self.refuse_login)
        return self.built[-1]


def disconnected(harness: Harness, kube: FakeKube) -> Builder:
    del harness.runtime.providers[VCENTER]
    kube.secrets[SECRET] = {"username": "herder", "password": "first-password"}
    return Builder()


def test_a_connection_is_built_once_watched_and_kept(harness: Harness, kube: FakeKube) -> None:
    builder = disconnected(harness, kube)
    first = connect(harness.runtime, vcenter(), builder.endpoint_of)
    (fake,) = builder.built
    assert fake.credentials == Credentials("herder", "first-password")
    assert fake.inventory.running
    handle = harness.runtime.providers[VCENTER]
    assert handle.provider is fake and handle.ready
    assert (reason(first.status), first.status["version"]) == ("Connected", "8.0.3")
    assert "first-password" not in repr(first.status)

    again = connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert len(builder.built) == 1
    assert fake.calls == ["endpoint.info"]  # kept: nothing asked of the backend at steady state
    assert again.status["conditions"] == first.status["conditions"]


def credentials_due(harness: Harness) -> None:
    """As if the Secret's recheck interval had passed."""
    harness.runtime.providers[VCENTER].credentials_read_at = 0.0


def test_rotated_credentials_rebuild_the_connection(harness: Harness, kube: FakeKube) -> None:
    builder = disconnected(harness, kube)
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    kube.secrets[SECRET] = {"username": "herder", "password": "second-password"}
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert len(builder.built) == 1  # the Secret is read again only when its recheck is due
    credentials_due(harness)
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    old, new = builder.built
    assert old.closed and not old.inventory.running
    assert new.credentials == Credentials("herder", "second-password")
    assert harness.runtime.providers[VCENTER].provider is new and new.inventory.running


def test_a_refused_login_takes_the_provider_out_of_service(harness: Harness, kube: FakeKube) -> None:
    builder = disconnected(harness, kube)
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    kube.secrets[SECRET] = {"username": "herder", "password": "expired-password"}
    credentials_due(harness)
    builder.refuse_login = AuthenticationFailed("the password has expired")
    with pytest.raises(HerderError) as refused:
        connect(harness.runtime, vcenter(), builder.endpoint_of)
    failed = connection_failed(harness.runtime, "VCenter", vcenter(), refused.value)
    assert reason(failed.status) == "AuthenticationFailed"
    assert not harness.runtime.providers[VCENTER].ready

    body = server()
    with pytest.raises(ProviderNotReady) as not_ready:
        sync_server(harness.runtime, body, harness.lookups)
    waiting = server_failed(harness.runtime, body, not_ready.value)
    assert reason(waiting.status, "Provisioned") == "ProviderNotReady"
    assert "the password has expired" in waiting.status["conditions"][0]["message"]


def test_a_secret_fixed_after_a_refused_login_is_read_on_the_next_retry(harness: Harness, kube: FakeKube) -> None:
    builder = disconnected(harness, kube)
    builder.refuse_login = AuthenticationFailed("wrong password")
    with pytest.raises(HerderError) as refused:
        connect(harness.runtime, vcenter(), builder.endpoint_of)
    connection_failed(harness.runtime, "VCenter", vcenter(), refused.value)
    builder.refuse_login = None
    kube.secrets[SECRET] = {"username": "herder", "password": "fixed-password"}
    back = connect(harness.runtime, vcenter(), builder.endpoint_of)  # well within the recheck interval
    assert reason(back.status) == "Connected"
    assert builder.built[-1].credentials == Credentials("herder", "fixed-password")


def test_a_silent_backend_is_unreachable_for_its_servers_and_heals_when_it_answers(harness: Harness,
                                                                                    kube: FakeKube) -> None:
    builder = disconnected(harness, kube)
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    (fake,) = builder.built
    fake.endpoint.silent_for = 45.0
    with pytest.raises(Unreachable) as silent:
        connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert fake.calls == ["endpoint.info"]  # told without asking the hung backend anything
    failed = connection_failed(harness.runtime, "VCenter", vcenter(), silent.value)
    assert reason(failed.status) == "Unreachable" and "45s" in failed.status["conditions"][0]["message"]
    with pytest.raises(ProviderNotReady) as waiting:
        sync_server(harness.runtime, server(), harness.lookups)
    assert waiting.value.reason is Reason.UNREACHABLE  # each server says its backend does not answer

    fake.endpoint.silent_for = None
    back = connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert reason(back.status) == "Connected" and harness.runtime.providers[VCENTER].ready
    assert len(builder.built) == 1 and fake.calls == ["endpoint.info", "endpoint.info"]  # the same connection


def test_a_recheck_that_cannot_read_the_secret_keeps_the_working_connection_for_a_grace(harness: Harness,
                                                                                       kube: FakeKube) -> None:
    """An API server that just restarted may refuse the read (Forbidden) while its authorizer catches up: the
    servers on a connection that works must not stop for it. It is read again at each health check, and a Secret
    that stays unreadable past the grace fails the endpoint as before."""
    builder = disconnected(harness, kube)
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    del kube.secrets[SECRET]
    credentials_due(harness)
    handle = harness.runtime.providers[VCENTER]
    handle.credentials_read_at = time.monotonic() - CREDENTIALS_RECHECK_SECONDS  # just due
    kept = connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert (reason(kept.status), handle.ready, len(builder.built)) == ("Connected", True, 1)
    reads = len(kube.calls)
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert len(kube.calls) == reads + 1  # read again at the next pass, not a minute later

    kube.secrets[SECRET] = {"username": "herder", "password": "second-password"}  # readable again, rotated
    connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert builder.built[-1].credentials == Credentials("herder", "second-password")

    del kube.secrets[SECRET]
    harness.runtime.providers[VCENTER].credentials_read_at = (
        time.monotonic() - CREDENTIALS_RECHECK_SECONDS - CREDENTIALS_GRACE_SECONDS)
    with pytest.raises(SecretUnavailable):  # past the grace: Not Ready, as the connection_failed tests show
        connect(harness.runtime, vcenter(), builder.endpoint_of)


def test_a_connection_that_never_worked_still_needs_its_secret(harness: Harness, kube: FakeKube) -> None:
    builder = disconnected(harness, kube)
    del kube.secrets[SECRET]
    with pytest.raises(SecretUnavailable):
        connect(harness.runtime, vcenter(), builder.endpoint_of)
    assert not builder.built
