"""Condition messages are plain words: real client-library failures (a refused connection through urllib, requests
and urllib3; an unexpected exception) and a refusal by the Kubernetes API come out without Python type names,
object addresses, errno tuples or HTTP dumps."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from kubernetes.client.exceptions import ApiException

from herder.errors import ImportFailed, describe
from herder.kube import refusal
from herder.providers import download
from herder.providers.scvmm.errors import translate as scvmm_translate
from herder.providers.vcenter.errors import translate as vcenter_translate

PYTHON_TEXT = ("Errno", "object at 0x", "Error(", "HTTPConnectionPool", "HTTPSConnectionPool", "Max retries",
               "Caused by", "Traceback", "KeyError", "urlopen error", "<", "HTTP response headers")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: connecting is refused


def _plain(message: str) -> None:
    for text in PYTHON_TEXT:
        assert text not in message, f"{text!r} in {message!r}"


def test_a_refused_download_says_so() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/ubuntu.ova"
    with pytest.raises(ImportFailed) as failed:
        download.open_url(url)
    assert str(failed.value) == f"GET {url}: the connection was refused"


def test_a_refused_winrm_connection_says_so() -> None:
    endpoint = f"https://127.0.0.1:{_closed_port()}/wsman"
    with pytest.raises(requests.ConnectionError) as raised:
        requests.post(endpoint, timeout=5)
    message = str(scvmm_translate(raised.value, "find VM x", endpoint, "svc"))
    assert message == f"find VM x: cannot reach SCVMM {endpoint}: the connection was refused"
    _plain(message)


@pytest.mark.parametrize(("exc", "says"), [
    (ConnectionRefusedError(111, "Connection refused"), "cannot reach vCenter: the connection was refused"),
    (socket.gaierror(-2, "Name or service not known"), "cannot reach vCenter: the host name does not resolve"),
    (TimeoutError("timed out"), "cannot reach vCenter: it timed out"),
    (KeyError("summary"), "clone VM x: an unexpected error (details in herder's log)"),
])
def test_vcenter_failures_in_plain_words(exc: BaseException, says: str) -> None:
    message = str(vcenter_translate(exc, "clone VM x"))
    assert message.endswith(says)
    _plain(message)


def test_the_innermost_telling_cause_wins() -> None:
    try:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except OSError as inner:
            raise RuntimeError("wrapper with <object at 0x7f00>") from inner
    except RuntimeError as outer:
        assert describe(outer) == "the connection was closed by the other end"


def test_a_kubernetes_refusal_is_the_api_servers_message() -> None:
    status = {"kind": "Status", "status": "Failure", "code": 403, "reason": "Forbidden",
              "message": 'elasticcloudservers.herder.dev "w-1" is forbidden: exceeded quota: q'}
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = json.dumps(status)
    assert refusal(exc) == 'elasticcloudservers.herder.dev "w-1" is forbidden: exceeded quota: q'
    bare = ApiException(status=500, reason="Internal Server Error")
    assert refusal(bare) == "HTTP 500 Internal Server Error"
    _plain(refusal(exc))
