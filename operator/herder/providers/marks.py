"""How a ServerSnapshot's identity is written on the backend snapshot it makes, and read back.

Both the name and the description carry the ServerSnapshot's UID, so herder finds its own snapshot in a VM's
snapshot tree (or among its checkpoints) after a crash instead of taking a second one, whichever field a
person later edits.
"""

from __future__ import annotations

import re

SNAPSHOT_MARK = "herder-snapshot-uid="
MAX_NAME = 80  # vSphere's limit for snapshot names; VMM takes longer ones
_UID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_IN_DESCRIPTION = re.compile(re.escape(SNAPSHOT_MARK) + r"(\S+)")
_IN_NAME = re.compile(r"-(" + _UID + r")$")


def snapshot_name(label: str, uid: str) -> str:
    """`<label>-<uid>`, the label shortened so that the whole stays within MAX_NAME."""
    return f"{label[: max(MAX_NAME - len(uid) - 1, 1)]}-{uid}"


def snapshot_description(uid: str, text: str | None) -> str:
    """The mark first, then the user's description."""
    return f"{SNAPSHOT_MARK}{uid}" + (f" {text}" if text else "")


def snapshot_owner(name: str, description: str) -> str | None:
    """The ServerSnapshot UID a backend snapshot carries (description first, then name); None: not herder's."""
    found = _IN_DESCRIPTION.search(description or "") or _IN_NAME.search(name or "")
    return found.group(1) if found else None
