"""Thin Kopf handlers, one module per kind. Importing this package registers them all."""

from herder.controllers import ecs, lookups, operator_settings, scvmm, vcenter

__all__ = ["ecs", "lookups", "operator_settings", "scvmm", "vcenter"]
