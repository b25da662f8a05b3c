"""The base of Backend.AI's config models: snake_case or kebab-case keys in, snake_case out."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)


class BackendAIModel(BaseModel):
    # unknown keys are kept and written back: newer Backend.AI releases add fields we must not drop
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_default=True)

    #: fields whose ``None`` means something (e.g. ``shell: null`` disables wrapping), so they are written
    keep_none: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _snake_case_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        for field in cls.model_fields.values():
            if isinstance(field.alias, str):
                known.add(field.alias)
            if isinstance(field.validation_alias, AliasChoices):
                known.update(c for c in field.validation_alias.choices if isinstance(c, str))
        result: dict[str, Any] = {}
        for key, value in data.items():
            snake = key.replace("-", "_") if isinstance(key, str) else key
            name = snake if snake in known else key
            if name in result and name != key:
                raise ValueError(f"{key!r} repeats {name!r}; give one of them")
            result[name] = value
        return result

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            fields = type(self).model_fields
            return {k: v for k, v in data.items() if v is not None or k not in fields or k in self.keep_none}
        return data

    def to_document(self) -> dict[str, Any]:
        """The JSON/YAML document Backend.AI reads (snake_case keys, unknown keys kept)."""
        data = self.model_dump(mode="json", by_alias=True)
        assert isinstance(data, dict)
        return data
