"""Fields that rule conditions and outputs read from events, one registry per event source."""

from kubeward.runtime.fields.base import (
    NA,
    ArgKind,
    Field,
    FieldRegistry,
    FieldSpec,
    Getter,
    MappedFieldRegistry,
    UnknownFieldError,
    render,
)

__all__ = [
    "NA",
    "ArgKind",
    "Field",
    "FieldRegistry",
    "FieldSpec",
    "Getter",
    "MappedFieldRegistry",
    "UnknownFieldError",
    "render",
]
