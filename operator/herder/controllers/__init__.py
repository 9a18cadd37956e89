"""Kopf handlers, one package per kind; each kind's `handlers.py` is the only module that registers any.
Importing this package registers them all, with the operator's start-up settings."""

from herder import startup
from herder.controllers.connection import handlers as connection_handlers
from herder.controllers.ecs import handlers as ecs_handlers
from herder.controllers.ecsset import handlers as ecsset_handlers
from herder.controllers.image import handlers as image_handlers
from herder.controllers.namespace import handlers as namespace_handlers
from herder.controllers.pool import handlers as pool_handlers
from herder.controllers.quota import handlers as quota_handlers
from herder.controllers.restore import handlers as restore_handlers
from herder.controllers.schedule import handlers as schedule_handlers
from herder.controllers.snapshot import handlers as snapshot_handlers
from herder.controllers.zone import handlers as zone_handlers

__all__ = ["connection_handlers", "ecs_handlers", "ecsset_handlers", "image_handlers", "namespace_handlers",
           "pool_handlers", "quota_handlers", "restore_handlers", "schedule_handlers", "snapshot_handlers",
           "startup", "zone_handlers"]
