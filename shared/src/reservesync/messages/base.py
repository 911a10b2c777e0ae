"""The base every Kafka message model shares."""

from __future__ import annotations

from typing import Any, ClassVar

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

    def to_json(self) -> bytes:
        # The serializer's bytes as they are: `model_dump_json` decodes them into a str, which
        # was then encoded back (the db-writer serialises every event for its digest).
        return self.__pydantic_serializer__.to_json(self, by_alias=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
