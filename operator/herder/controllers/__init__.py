"""Thin Kopf handlers, one module per kind. Importing this package registers them all."""

from herder.controllers import operator_settings

__all__ = ["operator_settings"]
