"""Thin Kopf handlers, one module per kind. Importing this package registers them all."""

from herder.controllers import ecs, ecsset, image, lookups, operator_settings, resourcepool, scvmm, vcenter, zone

__all__ = ["ecs", "ecsset", "image", "lookups", "operator_settings", "resourcepool", "scvmm", "vcenter", "zone"]
