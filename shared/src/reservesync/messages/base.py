"""The base every Kafka message model shares."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """A versioned JSON message. Subclasses pin `schema_` to a `Literal` of their schema name.

    The wire field is called `schema`; the attribute is `schema_` because pydantic reserves
    `schema` on models.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        str_max_length=65_536,
    )

    SCHEMA: ClassVar[str]

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> Self:
        """The model of `values`, every field given (by attribute name) exactly as validation
        would leave it, built without validating them again.

        Only for a producer that has already checked each value at least as strictly as the
        model would (the chain-listener's decoder, `reservesync.event_decoding`): there validating
        a `ChainEvent` again took 20 µs of the listener's ~60 µs per event in a backfill, and
        `model_construct` still 11 µs (a Python loop over the fields and their aliases), this
        2 µs. Whatever might not pass must go through validation instead, so it fails as it
        always has."""
        model = cls.__new__(cls)
        # What model_construct leaves behind, without its per-field loop.
        object.__setattr__(model, "__dict__", values)
        object.__setattr__(model, "__pydantic_fields_set__", set(values))
        object.__setattr__(model, "__pydantic_extra__", None)
        object.__setattr__(model, "__pydantic_private__", None)
        return model

    def to_json(self) -> bytes:
        # The serializer's bytes as they are: `model_dump_json` decodes them into a str, which
        # was then encoded back (the db-writer serialises every event for its digest).
        return self.__pydantic_serializer__.to_json(self, by_alias=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
