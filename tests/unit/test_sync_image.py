"""Image sync passes against the fake provider: an existing template, a missing one, a final failure that
stands until the spec changes, an import, a capture through its server's hold, and deletion."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fakes.harness import (
    NAMESPACE,
    VCENTER,
    Body,
    Harness,
    advance,
    captured_image,
    changed,
    cluster_image,
    reason,
    server,
)
from fakes.kube import FakeKube
from fakes.provider import TEMPLATE
from herder.api.annotations import CAPTURE_HOLD_ANNOTATION
from herder.api.metadata import API_VERSION
from herder.controllers.image.delete import delete_image
from herder.controllers.image.hold import SERVERS
from herder.controllers.image.sync import BACKOFF, image_failed, sync_image
from herder.controllers.shared.daemon import Pass, Progress
from herder.errors import HerderError, ImportFailed, Unresolvable
from herder.reasons import Reason

CHECKSUM = "sha256:" + "ab" * 32


def imported_image(name: str, url: str) -> Body:
    return {"apiVersion": API_VERSION, "kind": "Image",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": str(uuid.uuid4()), "generation": 1},
            "spec": {"provider": {"kind": VCENTER[0], "name": VCENTER[1]}, "osFamily": "Linux",
                     "source": {"url": {"url": url, "checksum": CHECKSUM}}}}


def image_pass(harness: Harness, body: Body) -> tuple[Body, Pass]:
    """One image pass as the daemon runs it (a HerderError becomes image_failed's status); Kopf's index then
    holds the image as written."""
    kind = body["kind"]
    try:
        result = sync_image(harness.runtime, kind, body, harness.lookups, Progress())
    except HerderError as exc:
        result = image_failed(kind, body, exc)
    body = advance(body, result)
    harness.add(body)
    return body, result


def test_an_existing_template_is_found_and_reported(harness: Harness) -> None:
    body, result = image_pass(harness, cluster_image())
    (template,) = harness.fake.images.all()
    status = body["status"]
    assert (status["phase"], status["uniqueID"], status["path"]) == ("Available", template.unique_id,
                                                                     f"/DC0/vm/{TEMPLATE}")
    assert reason(status) == "Available"
    assert result.delay is None
    assert harness.fake.calls == ["images.adopt_template"]


def test_a_missing_template_is_retried_after_its_backoff(harness: Harness) -> None:
    body, failed = image_pass(harness, cluster_image("golden", template="golden-tmpl"))
    assert (reason(body["status"]), body["status"]["phase"]) == ("TemplateNotFound", "Pending")
    assert failed.failed and failed.delay == 2.0

    harness.fake.calls.clear()
    body, held = image_pass(harness, body)  # woken before its retry is due
    assert harness.fake.calls == []
    assert held.delay is not None and 0 < held.delay <= 2.0

    harness.fake.images.add("golden-tmpl")
    BACKOFF.retry_at[body["metadata"]["uid"]] = 0.0
    body, _ = image_pass(harness, body)
    assert body["status"]["phase"] == "Available"


def test_a_final_failure_stands_until_the_generation_changes(harness: Harness) -> None:
    body = imported_image("web", "https://images.example/web.ova")
    harness.fake.fail_next("images.import_ovf", ImportFailed(Reason.CHECKSUM_MISMATCH, "the file's sha256 differs"))
    body, failed = image_pass(harness, body)
    assert (reason(body["status"]), body["status"]["phase"]) == ("ChecksumMismatch", "Failed")
    assert failed.delay is None

    harness.fake.calls.clear()
    body, stands = image_pass(harness, body)
    assert harness.fake.calls == []
    assert stands.delay is None

    body, _ = image_pass(harness, changed(body, osVersion="Ubuntu 24.04"))
    assert harness.fake.calls == ["images.import_ovf"]
    assert body["status"]["phase"] == "Available"


def test_deleting_an_imported_image_destroys_its_template(harness: Harness) -> None:
    body, _ = image_pass(harness, imported_image("web", "https://images.example/web.ova"))
    harness.fake.tasks.quick = True
    message = delete_image(harness.runtime, "Image", body, harness.lookups)
    assert "deleted" in message
    assert [t.name for t in harness.fake.images.all()] == [TEMPLATE]


def test_deleting_an_image_of_an_existing_template_leaves_it(harness: Harness) -> None:
    body, _ = image_pass(harness, cluster_image())
    harness.fake.calls.clear()
    message = delete_image(harness.runtime, "ClusterImage", body, harness.lookups)
    assert "Orphan" in message
    assert harness.fake.calls == ["images.release_template"]  # only what herder made around it goes
    assert [t.name for t in harness.fake.images.all()] == [TEMPLATE]


def _ecs_as_stored(kube: FakeKube, ecs: Body) -> Body:
    """The ECS with its metadata as the API server has it (annotations the image controller wrote)."""
    stored = kube.get(SERVERS, NAMESPACE, ecs["metadata"]["name"])
    assert stored is not None
    return {**ecs, "metadata": stored["metadata"]}


def _stopped_for_capture(harness: Harness, kube: FakeKube) -> tuple[Body, Body]:
    """A GuestShutdown capture of web-1 up to its clone: (the ECS, the image)."""
    ecs, _ = harness.provision(server())
    kube.put(SERVERS, ecs)
    image, _ = image_pass(harness, captured_image("snap", "web-1"))
    assert reason(image["status"]) == "StoppingServer"

    ecs, _ = harness.sync(_ecs_as_stored(kube, ecs))  # the ECS controller takes the hold in
    assert ecs["status"]["pendingTask"]["operation"] == "guest-shutdown"
    image, _ = image_pass(harness, image)  # still shutting down: no clone yet
    assert reason(image["status"]) == "StoppingServer"
    assert "images.capture" not in harness.fake.calls

    harness.fake.tasks.succeed(ecs["status"]["pendingTask"]["id"])
    image, _ = image_pass(harness, image)  # the VM is off, but its ECS has not said so: no clone yet
    assert reason(image["status"]) == "StoppingServer"
    ecs, _ = harness.sync(ecs)
    kube.put(SERVERS, ecs)  # its status now carries the go-ahead, stoppedForCapture
    image, cloning = image_pass(harness, image)
    assert image["status"]["pendingTask"]["operation"] == "capture"
    assert cloning.delay is not None
    return ecs, image


def _hold_on(kube: FakeKube) -> str | None:
    stored = kube.get(SERVERS, NAMESPACE, "web-1")
    assert stored is not None
    annotations: dict[str, Any] = stored["metadata"].get("annotations") or {}
    return annotations.get(CAPTURE_HOLD_ANNOTATION)


def test_a_capture_clones_only_after_its_server_stopped_then_gives_it_back(harness: Harness, kube: FakeKube) -> None:
    ecs, image = _stopped_for_capture(harness, kube)
    assert harness.fake.calls.count("images.capture") == 1
    assert _hold_on(kube) is not None

    harness.fake.tasks.succeed(image["status"]["pendingTask"]["id"])
    image, done = image_pass(harness, image)
    status = image["status"]
    assert (status["phase"], status["uniqueID"]) == ("Available", image["metadata"]["uid"])
    assert "img_team-a.snap" in [t.name for t in harness.fake.images.all()]
    assert _hold_on(kube) is None
    assert done.delay is None

    ecs, _ = harness.sync(_ecs_as_stored(kube, ecs))  # released: the declared power state comes back
    assert ecs["status"]["pendingTask"]["operation"] == "power-on"


def test_a_failed_capture_gives_its_server_back(harness: Harness, kube: FakeKube) -> None:
    _, image = _stopped_for_capture(harness, kube)
    harness.fake.tasks.fail(image["status"]["pendingTask"]["id"], "snapshot of the source failed")
    image, failed = image_pass(harness, image)
    assert (reason(image["status"]), image["status"]["phase"]) == ("CaptureFailed", "Pending")
    assert "pendingTask" not in image["status"]
    assert failed.delay == 2.0
    assert _hold_on(kube) is None


def test_deleting_an_image_waits_for_its_running_clone(harness: Harness, kube: FakeKube) -> None:
    _, image = _stopped_for_capture(harness, kube)
    with pytest.raises(Unresolvable) as caught:
        delete_image(harness.runtime, "Image", image, harness.lookups)
    assert caught.value.reason is Reason.CAPTURING
    assert _hold_on(kube) is not None
