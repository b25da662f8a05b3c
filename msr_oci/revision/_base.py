"""The base of Backend.AI's config models: snake_case or kebab-case keys in, snake_case out.

Backend.AI reads these files as *partial drafts*: a key the user did not write takes its value from a
lower layer (runtime-variant baseline, revision preset). So the document view (``to_document``) holds
only the fields that were set; ``resolved`` applies the defaults Backend.AI HEAD would apply.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, model_validator


class BackendAIModel(BaseModel):
    # unknown keys are kept: newer Backend.AI releases add fields we must not drop (HEAD ignores them)
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_default=True)

    @classmethod
    def known_keys(cls) -> set[str]:
        """Every key this model reads, by field name and alias."""
        known = set(cls.model_fields)
        for field in cls.model_fields.values():
            if isinstance(field.alias, str):
                known.add(field.alias)
            if isinstance(field.validation_alias, AliasChoices):
                known.update(c for c in field.validation_alias.choices if isinstance(c, str))
        return known

    @model_validator(mode="before")
    @classmethod
    def _snake_case_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = cls.known_keys()
        spelling = cls._spellings()
        result: dict[str, Any] = {}
        given: dict[str, str] = {}
        for key, value in data.items():
            snake = key.replace("-", "_") if isinstance(key, str) else key
            name = snake if snake in known else key
            if name in result and name != key:
                raise ValueError(f"{key!r} repeats {name!r}; give one of them")
            field = spelling.get(name) if isinstance(name, str) else None
            if field is not None:
                if field in given:
                    raise ValueError(f"{key!r} and {given[field]!r} are the same field; give one of them")
                given[field] = str(key)
            result[name] = value
        return result

    @classmethod
    def _spellings(cls) -> dict[str, str]:
        """Each alternative name (``replicas``) -> its field (``replica_count``)."""
        spellings: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            if isinstance(field.validation_alias, AliasChoices):
                for choice in field.validation_alias.choices:
                    if isinstance(choice, str):
                        spellings[choice] = name
        return spellings

    def to_document(self) -> dict[str, Any]:
        """What the user set, as Backend.AI reads it (snake_case keys, unknown keys kept, no defaults)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert isinstance(data, dict)
        return data

    def resolved(self) -> dict[str, Any]:
        """Every field with Backend.AI HEAD's defaults filled in."""
        data = self.model_dump(mode="json", by_alias=True)
        assert isinstance(data, dict)
        return data
