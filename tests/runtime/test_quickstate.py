"""evolve's quick path (aether/quickstate.py) accepts, refuses and builds exactly what
pydantic's validation of the whole state does: same values of the same types, same fields
set; a class that validates in its own way always goes through pydantic."""

from __future__ import annotations

import enum
import math
from decimal import Decimal
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aether.aggregate import InvalidStateError, evolve
from aether.quickstate import quick_fields


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1


class Tag(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str = "t"


class State(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str = ""
    count: int = 0
    flag: bool = False
    ratio: float = 0.0
    amount: Decimal = Decimal(0)
    colour: Colour = Colour.RED
    level: Level = Level.LOW
    note: str | None = None
    numbers: list[int] = []
    positive: Annotated[int, Field(ge=0)] = 0
    tag: Tag = Tag()


class Text(str):
    pass


_values = st.one_of(
    st.text(max_size=5), st.builds(Text, st.text(max_size=3)), st.integers(-3, 3),
    st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("1.10"), Decimal("NaN"), Decimal("-Infinity"),
                     Decimal(-0)]),
    st.sampled_from([*Colour, *Level, "red", "blue", 1, None, [1, 2], [1, "x"], (1,),
                     {"name": "n"}, Tag(), Tag(name="x"), b"red", Colour]),
)


def _outcome(build: Any) -> tuple[str, Any]:
    try:
        state = build()
    except (InvalidStateError, ValidationError):
        return "refused", None
    values = {name: (type(value), repr(value)) for name, value in state.__dict__.items()}
    return "built", (values, state.model_fields_set, state.model_dump(mode="json"))


def _same_json(left: Any, right: Any) -> bool:
    # NaN is never equal to itself: compare the JSON floats by their text.
    return repr(left) == repr(right) or left == right


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")  # pydantic on both sides
@settings(deadline=None, max_examples=300)
@given(changes=st.dictionaries(st.sampled_from(list(State.model_fields)), _values, max_size=3))
def test_evolve_decides_like_validating_the_whole_state(changes: dict[str, Any]) -> None:
    state = State(text="before", count=2, note="n", numbers=[1])
    quick = _outcome(lambda: evolve(state, **changes))
    exact = _outcome(lambda: State.model_validate({**state.__dict__, **changes}))
    assert quick[0] == exact[0], (changes, quick, exact)
    if quick[0] == "built":
        assert quick[1][0] == exact[1][0]
        assert quick[1][1] == exact[1][1]
        assert _same_json(quick[1][2], exact[1][2])


def test_an_evolved_state_is_frozen_and_equal_to_a_validated_one() -> None:
    state = State()
    changed = evolve(state, text="x", amount=Decimal("2.50"), colour=Colour.BLUE)
    assert changed == State(text="x", amount=Decimal("2.50"), colour=Colour.BLUE)
    assert state.text == ""  # the original is untouched
    with pytest.raises(ValidationError):
        changed.text = "y"  # type: ignore[misc]
    assert math.isnan(evolve(state, ratio=float("nan")).ratio)


def test_a_refused_change_names_the_class_and_the_field() -> None:
    with pytest.raises(InvalidStateError, match=r"State\.evolve\(count\)"):
        evolve(State(), count="3x")
    with pytest.raises(InvalidStateError, match=r"State\.evolve\(amount\)"):
        evolve(State(), amount=Decimal("NaN"))
    with pytest.raises(InvalidStateError, match=r"State\.evolve\(positive\)"):
        evolve(State(), positive=-1)


class Shouting(BaseModel):
    model_config = ConfigDict(frozen=True)
    word: str = ""

    @field_validator("word")
    @classmethod
    def _upper(cls, word: str) -> str:
        return word.upper()


class Stripped(BaseModel):
    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)
    word: str = ""


def test_a_state_with_validators_or_unusual_config_is_always_validated() -> None:
    assert quick_fields(Shouting) is None
    assert evolve(Shouting(), word="hi").word == "HI"
    assert quick_fields(Stripped) is None
    assert evolve(Stripped(), word=" hi ").word == "hi"


class Machine(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: str = "idle"  # a field a model may well call "state"


def test_a_field_named_state_is_evolved_like_any_other() -> None:
    # Found by tests/codegen/test_rule_one.py: a generated evolve passes every field by
    # keyword, and `state=` once collided with evolve's own first parameter.
    assert evolve(Machine(), state="running") == Machine(state="running")
    with pytest.raises(InvalidStateError, match="state"):
        evolve(Machine(), state=42)


class Loose(BaseModel):
    """Not frozen: its fields can be set after validation."""

    text: str = ""
    count: int = 0


def test_states_built_quickly_keep_their_fields_set_apart() -> None:
    first = evolve(Loose(), text="a")
    second = evolve(Loose(), count=2)
    first.text = "b"  # setting a field marks it set: nothing new for a whole state
    copied = second.model_copy(update={"count": 3})
    assert first.model_fields_set == second.model_fields_set == {"text", "count"}
    assert copied.model_fields_set == {"text", "count"} and second.count == 2
    assert evolve(first, count=1).model_dump() == {"text": "b", "count": 1}
