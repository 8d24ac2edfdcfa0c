"""EventStorming models: load (YAML or Python), validate, graph and draw them."""

from modeling.builder import ModelBuilder, field
from modeling.loader import LoadedModel, load_builder, load_model
from modeling.source import Diagnostic, Location, ModelError
from modeling.types import (
    Actor,
    Aggregate,
    BoundedContext,
    CommandDef,
    EnumType,
    EventDef,
    ExternalSystem,
    FieldSpec,
    HotSpot,
    Model,
    Policy,
    ReadModel,
    Relationship,
    Scenario,
    ValueObject,
)

__all__ = [
    "Actor",
    "Aggregate",
    "BoundedContext",
    "CommandDef",
    "Diagnostic",
    "EnumType",
    "EventDef",
    "ExternalSystem",
    "FieldSpec",
    "HotSpot",
    "LoadedModel",
    "Location",
    "Model",
    "ModelBuilder",
    "ModelError",
    "Policy",
    "ReadModel",
    "Relationship",
    "Scenario",
    "ValueObject",
    "field",
    "load_builder",
    "load_model",
]
