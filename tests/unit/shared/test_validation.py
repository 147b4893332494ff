"""shared.validation.load: one refusal for invalid input, and a schema class made once."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields

from shared.errors import InvalidInput
from shared.validation import load


class _Counted(Schema):
    made = 0
    name = fields.String(required=True)
    size = fields.Integer(load_default=1)

    def __init__(self, **kwargs):
        type(self).made += 1
        super().__init__(**kwargs)


def test_a_schema_class_is_made_once_and_serves_every_load():
    before = _Counted.made
    assert load(_Counted, {"name": "a"}) == {"name": "a", "size": 1}
    assert load(_Counted, {"name": "b", "size": 3}) == {"name": "b", "size": 3}
    assert _Counted.made - before <= 1


def test_a_refused_load_leaves_nothing_for_the_next():
    with pytest.raises(InvalidInput) as refused:
        load(_Counted, {"size": "many"}, "the thing")
    assert refused.value.message == "the thing is not valid"
    assert set(refused.value.details) == {"name", "size"}
    assert load(_Counted, {"name": "c"}) == {"name": "c", "size": 1}


def test_an_instance_given_is_used_as_it_is():
    class Strict(Schema):
        name = fields.String(required=True)

    assert load(Strict(only=("name",)), {"name": "x"}) == {"name": "x"}
    with pytest.raises(InvalidInput):
        load(Strict, ["not", "an", "object"])


def test_no_text_of_any_input_may_hold_the_nul_character_and_the_refusal_names_where():
    class Item(Schema):
        name = fields.String()

    class Body(Schema):
        title = fields.String()
        items = fields.List(fields.Nested(Item))
        data = fields.Dict()

    assert load(Body, {"title": "a b", "items": [{"name": "x"}], "data": {"k": "v"}})["title"] == "a b"
    for body, where in (
        ({"title": "a\x00b"}, "title"),
        ({"items": [{"name": "x"}, {"name": "\x00"}]}, "items[1].name"),
        ({"data": {"k\x00": "v"}}, "data"),
    ):
        with pytest.raises(InvalidInput) as refused:
            load(Body, body, "the proposal")
        assert list(refused.value.details) == [where] and "NUL" in refused.value.details[where][0]
