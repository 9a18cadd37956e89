"""ConvertTo-Json as Windows PowerShell 5.1 writes it (JavaScriptSerializer rules)."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from herder_dev.scvmm_sim.ps.errors import NotSupportedError
from herder_dev.scvmm_sim.ps.values import Hashtable, PSEnum, PSObject, ScriptBlock, TypeRef, to_str

_DATE = re.compile(r'"/Date\((-?\d+)\)/"')
# 5.1 escapes HTML-significant characters; a driver must not depend on them arriving literally.
_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}


def _plain(value: Any, level: int, depth: int) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, PSEnum):
        return value.value  # enums serialise as their number in 5.1
    if isinstance(value, dt.datetime):
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return f"/Date({int((aware - epoch).total_seconds() * 1000)})/"
    if isinstance(value, uuid.UUID | TypeRef | ScriptBlock):
        return to_str(value)
    if level > depth:  # beyond -Depth, containers become their ToString()
        return to_str(value)
    if isinstance(value, list):
        return [_plain(v, level + 1, depth) for v in value]
    if isinstance(value, Hashtable):
        return {k: _plain(v, level + 1, depth) for k, v in value.items()}
    if isinstance(value, PSObject):
        return {k: _plain(v, level + 1, depth) for k, v in value.props.items()}
    raise NotSupportedError(f"ConvertTo-Json of {type(value).__name__}")


def convert_to_json(value: Any, depth: int = 2, compress: bool = False) -> str:
    plain = _plain(value, 0, depth)
    if compress:
        text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(plain, ensure_ascii=False, indent=4).replace('": ', '":  ')
    text = _DATE.sub(r'"\\/Date(\1)\\/"', text)
    return "".join(_HTML.get(ch, ch) for ch in text).replace("\n", "\r\n")


def convert_from_json(text: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> PSObject:
        return PSObject.custom(dict(pairs))

    def listify(value: Any) -> Any:
        if isinstance(value, list):
            return [listify(v) for v in value]
        if isinstance(value, PSObject):
            for k in list(value.props):
                value.props[k] = listify(value.props[k])
        return value

    return listify(json.loads(text, object_pairs_hook=hook))
