"""kube.ignoring: the one place that decides which API errors a caller may treat as 'already so'."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from herder import kube


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
