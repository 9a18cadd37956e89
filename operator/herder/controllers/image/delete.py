"""Deleting an Image or ClusterImage: honour deletionPolicy (default Orphan for `existing`, Delete otherwise).
ECSs cloned from an image are independent VMs and are never touched."""

from __future__ import annotations

import logging
from typing import Any

from herder.api.common import DeletionPolicy
from herder.controllers.image import capture
from herder.controllers.image.backend import images_of
from herder.controllers.image.sync import model
from herder.controllers.shared import tasks
from herder.controllers.shared.indexes import Lookups
from herder.controllers.shared.runtime import Runtime
from herder.errors import HerderError, NotSupported, ProviderError, Unresolvable
from herder.providers.types import TaskStatus
from herder.reconcile.image import deletion_policy

DELETE_WAIT_SECONDS = 60.0
log = logging.getLogger(__name__)


def delete_image(runtime: Runtime, kind: str, body: dict[str, Any], lookups: Lookups) -> str:
    """What happened. Raises HerderError to be retried."""
    image = model(kind, body)
    source = image.spec.source
    policy = deletion_policy(image)
    status = image.status
    uid = image.metadata.uid or ""
    # Templates herder made carry the image's UID; an adopted one is known by its recorded ID only.
    identity = status.unique_id if source.existing else (status.unique_id or uid)
    server = capture.source_server(image) if source.from_server is not None else None
    if source.from_server is not None:
        capture.end_capture(runtime, kind, image, lookups, server)
    users = lookups.image_dependents(kind, image.metadata.namespace, image.metadata.name or "")
    # VMs are independent of the template they were cloned from: deleting it never touches them.
    note = f"; ECS {', '.join(users)} made from it keep their VMs" if users else ""
    if policy is DeletionPolicy.ORPHAN:
        try:
            images_of(runtime, image, lookups, server).release_template(uid)
        except HerderError as exc:  # Orphan is the way out when the backend is gone for good: it never blocks
            log.info("%s %s: leaving what herder made around the template: %s", kind, image.metadata.name, exc)
        return f"deletionPolicy Orphan: template {status.path or '-'} left in place{note}"
    if not identity:
        return f"no template to delete{note}"
    try:
        images = images_of(runtime, image, lookups, server)
    except Unresolvable as exc:
        if not (status.unique_id or status.pending_task or status.provider) and not runtime.warming_up():
            # Its provider never existed or never became ready: nothing was ever made, nothing to wait for.
            return f"nothing was made on the backend ({exc}): nothing to delete"
        raise
    try:
        result = tasks.wait(images.task, images.destroy_template(identity), DELETE_WAIT_SECONDS)
    except NotSupported as exc:
        return str(exc)
    if result.status is TaskStatus.FAILED:
        raise ProviderError(f"delete template {identity}: {result.error}")
    if result.status is TaskStatus.RUNNING:
        raise ProviderError(f"delete template {identity}: still running")
    return f"template {status.path or identity} deleted{note}"
