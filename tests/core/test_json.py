"""The store's JSON text: orjson's, and what json.loads reads back is what json wrote."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaintflow._json import dumps

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_reads_back_as_the_standard_library_wrote_it(value: Any) -> None:
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))


def test_is_compact_and_keeps_non_ascii_text() -> None:
    assert dumps({"a": [1, 2.5, None, True], "城市": "北京"}) == (
        '{"a":[1,2.5,null,true],"城市":"北京"}'
    )


@pytest.mark.parametrize(
    "value",
    [
        2**70,  # beyond 64 bits
        {"n": -(2**64)},
        {1: "a key that is not a string"},
        "lone \ud800 surrogate",
    ],
    ids=["big-int", "big-negative", "int-key", "surrogate"],
)
def test_what_orjson_refuses_is_written_by_the_standard_library(value: Any) -> None:
    assert dumps(value) == json.dumps(value)
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("value", [dt.datetime(2026, 1, 5, tzinfo=dt.UTC), {"at": dt.date.today()}])
def test_times_are_refused_as_the_standard_library_refuses_them(value: Any) -> None:
    with pytest.raises(TypeError):
        dumps(value)
