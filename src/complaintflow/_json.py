"""JSON text of what the store writes: orjson where it can, else the standard library.

orjson encodes several times faster than :mod:`json`, and every lifecycle event encodes
a complaint's clocks and facts and its audit data. It refuses a few values :mod:`json`
takes (integers beyond 64 bits, keys that are not strings, lone surrogates); those are
encoded by :mod:`json`, so whatever :mod:`json` could store is stored, and read back by
:func:`json.loads` as before. Datetimes and dataclasses raise ``TypeError``, as with
:mod:`json`.

Reading stays with :func:`json.loads`: orjson parses an integer beyond 64 bits as a
float, which would change a host's data.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_AS_JSON_DOES = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> str:
    """``value`` as compact JSON text, non-ASCII characters as they are."""
    try:
        return orjson.dumps(value, option=_AS_JSON_DOES).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)
