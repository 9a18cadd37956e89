"""ECSs that cannot be made: a False Ready with an actionable message, a growing bounded backoff, no half-made
VM; and once the cause is fixed they proceed. Secret values never leak."""

from __future__ import annotations

import base64
import itertools
import uuid

from e2e_world import (
    CLUSTER_IMAGE,
    Govc,
    apply,
    assert_nowhere,
    condition_is,
    conditions,
    ecs_manifest,
    operator_retries,
    secret_manifest,
    stays,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

BACKOFF_CAP = 120


def test_unresolvable_references_fail_clearly_back_off_and_recover(stack: StackState, operator: OperatorProcess,
                                                                   govc: Govc, namespace: str) -> None:
    image = f"late-{namespace}"[:63]
    cases = {
        # name: (manifest, reason, words the message must contain to say what to fix)
        "noimage": (ecs_manifest("noimage", image={"kind": "ClusterImage", "name": image}), "ImageNotFound",
                    ["ClusterImage", image]),
        "nozone": (ecs_manifest("nozone", availabilityZone="dc9-nowhere"), "ZoneNotFound",
                   ["AvailabilityZone", "dc9-nowhere"]),
        "nouserdata": (ecs_manifest("nouserdata", guest={"userData": {"name": "cloud-init", "key": "userData"}}),
                       "UserDataUnavailable", ["spec.guest.userData", "cloud-init"]),
        "noimagekind": (ecs_manifest("noimagekind", image={"kind": "Image", "name": "private"}), "ImageNotFound",
                        ["Image", "private", namespace]),
    }
    mark = len(operator.log())
    apply(stack, *(manifest for manifest, _, _ in cases.values()), namespace=namespace)
    for name, (_, reason, words) in cases.items():
        status = wait_for(lambda: condition_is(stack, "ecs", name, namespace, "Ready", "False", reason),  # noqa: B023
                          timeout=20, what=f"{name}: Ready=False {reason}")
        message = conditions(status)["Ready"]["message"]
        for word in words:
            assert word in message, (name, message)
        assert conditions(status)["Provisioned"]["reason"] == reason
        assert "uniqueID" not in status and "pendingTask" not in status

    # Bounded exponential backoff: the retries of each object come further and further apart.
    def backed_off() -> dict[str, list[int]] | None:
        log = operator.log()[mark:]
        delays = {name: [s for r, s in operator_retries(log, namespace, name) if r == reason]
                  for name, (_, reason, _) in cases.items()}
        return delays if all(len(d) >= 3 for d in delays.values()) else None

    delays = wait_for(backed_off, timeout=30, what="three retries of each failing ECS")
    for name, seen in delays.items():
        assert seen[:3] == [2, 4, 8], (name, seen)
        assert all(later >= earlier for earlier, later in itertools.pairwise(seen)), (name, seen)
        assert max(seen) <= BACKOFF_CAP
    assert govc.vms(f"{namespace}.") == [], "a failing ECS left a VM behind"
    assert condition_is(stack, "ecs", "nozone", namespace, "Ready", "False", "ZoneNotFound")

    # Fix two causes: a new ClusterImage wakes the server at once; a Secret is found on the next retry.
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": image},
                  "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                           "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}})
    user_data = f"#cloud-config\nruncmd: [echo {uuid.uuid4().hex}]\n"
    apply(stack, secret_manifest("cloud-init", namespace, userData=user_data))
    try:
        wait_ready(stack, namespace, "noimage", timeout=20)
        wait_ready(stack, namespace, "nouserdata", timeout=40)  # within the current backoff (16s) plus a create
        assert govc.vms(f"{namespace}.") == [f"{namespace}.noimage", f"{namespace}.nouserdata"]
        vm = govc.vm(f"{namespace}.nouserdata")
        assert vm is not None
        extra = {o["key"]: o["value"] for o in vm["config"]["extraConfig"]}
        assert base64.b64decode(extra["guestinfo.userdata"]).decode() == user_data  # it reached the guest
        # The ones still broken stay broken, with no VM.
        stays(lambda: condition_is(stack, "ecs", "nozone", namespace, "Ready", "False", "ZoneNotFound"), 2,
              what="nozone still ZoneNotFound")
        assert condition_is(stack, "ecs", "noimagekind", namespace, "Ready", "False", "ImageNotFound")
        token = user_data.rsplit(maxsplit=1)[-1].strip("[]")
        assert_nowhere(stack, operator.log(), user_data, token, stack.vcsim_password)
    finally:
        stack.kubectl("delete", "clusterimage", image, "--wait=false", check=False)


def test_secret_values_never_leak(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str) -> None:
    token = uuid.uuid4().hex
    user_data = f"#cloud-config\npassword: {token}\n"
    apply(stack, secret_manifest("boot", namespace, userData=user_data),
          ecs_manifest("guest", image={"kind": "ClusterImage", "name": CLUSTER_IMAGE},
                       guest={"userData": {"name": "boot"}}),  # the default key, userData
          namespace=namespace)
    wait_ready(stack, namespace, "guest")
    vm = govc.vm(f"{namespace}.guest")
    assert vm is not None
    extra = {o["key"]: o["value"] for o in vm["config"]["extraConfig"]}
    assert base64.b64decode(extra["guestinfo.userdata"]).decode() == user_data
    assert_nowhere(stack, operator.log(), token, stack.vcsim_password)
