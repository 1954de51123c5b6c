"""An event together with the Kafka position it was read from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest

E_co = TypeVar("E_co", Action, WebRequest, FormSubmission, Consent, covariant=True)


@dataclass(frozen=True, slots=True)
class Located(Generic[E_co]):
    event: E_co
    partition: int
    offset: int
