"""VCenter connections: healthy status, bad credentials (and their rotation), an untrusted certificate."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from e2e_world import (
    VCENTER,
    Govc,
    apply,
    assert_nowhere,
    condition_is,
    conditions,
    secret_manifest,
    status_of,
    stays,
    vcenter_manifest,
    wait_for,
)

from herder_dev import pki
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

SYSTEM = "herder-system"


def test_vcenter_reports_version_and_instance_uuid(stack: StackState, operator: OperatorProcess, govc: Govc) -> None:
    status = wait_for(lambda: condition_is(stack, "vcenter", VCENTER, None, "Ready", "True", "Connected"),
                      timeout=30, what="VCenter Ready")
    about = json.loads(govc("about", "-json").stdout)["about"]
    assert status["version"] == about["version"]
    assert status["instanceUUID"] == about["instanceUuid"]
    body = json.loads(stack.kubectl("get", "vcenter", VCENTER, "-o", "json").stdout)
    assert status["observedGeneration"] == body["metadata"]["generation"]


def test_bad_credentials_then_rotation(stack: StackState, operator: OperatorProcess) -> None:
    name, secret = f"bad-{uuid.uuid4().hex[:6]}", f"creds-{uuid.uuid4().hex[:6]}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    apply(stack, secret_manifest(secret, SYSTEM, username=stack.vcsim_username, password=wrong))
    apply(stack, vcenter_manifest(stack, name=name, secret=secret))
    try:
        status = wait_for(lambda: condition_is(stack, "vcenter", name, None, "Ready", "False",
                                               "AuthenticationFailed"), timeout=20, what="AuthenticationFailed")
        ready = conditions(status)["Ready"]
        assert ready["message"], "the condition must say what failed"
        since = ready["lastTransitionTime"]
        # The failure persists across retries (backoff 2, 4, 8 s ...) and the condition does not flap.
        stays(lambda: condition_is(stack, "vcenter", name, None, "Ready", "False", "AuthenticationFailed"), 5,
              what="still AuthenticationFailed")
        assert conditions(status_of(stack, "vcenter", name))["Ready"]["lastTransitionTime"] == since
        assert_nowhere(stack, operator.log(), wrong, stack.vcsim_password)

        # Rotate the Secret to the right password: picked up on a retry, within the backoff (now <= 16 s).
        apply(stack, secret_manifest(secret, SYSTEM, username=stack.vcsim_username, password=stack.vcsim_password))
        started = time.monotonic()
        status = wait_for(lambda: condition_is(stack, "vcenter", name, None, "Ready", "True", "Connected"),
                          timeout=25, what="VCenter Ready after the credentials were fixed")
        assert time.monotonic() - started < 25
        assert status["version"] and status["instanceUUID"]
        assert_nowhere(stack, operator.log(), wrong, stack.vcsim_password)
    finally:
        stack.kubectl("delete", "vcenter", name, "--timeout=30s", check=False)
        stack.kubectl("delete", "secret", secret, namespace=SYSTEM, check=False)


def test_untrusted_certificate(stack: StackState, operator: OperatorProcess, tmp_path: Path) -> None:
    other_ca = pki.ensure_ca(tmp_path / "other-ca", common_name="someone else's CA")
    name = f"tls-{uuid.uuid4().hex[:6]}"
    apply(stack, vcenter_manifest(stack, name=name, ca_pem=Path(other_ca.cert).read_text()))
    try:
        status = wait_for(lambda: condition_is(stack, "vcenter", name, None, "Ready", "False",
                                               "TLSVerificationFailed"), timeout=20, what="TLSVerificationFailed")
        message = conditions(status)["Ready"]["message"]
        assert "certificate" in message and "CA" in message, message
        assert "version" not in status
        stays(lambda: condition_is(stack, "vcenter", name, None, "Ready", "False", "TLSVerificationFailed"), 3,
              what="still TLSVerificationFailed")
    finally:
        stack.kubectl("delete", "vcenter", name, "--timeout=30s", check=False)
