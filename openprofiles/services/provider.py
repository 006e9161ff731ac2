"""What every service provider has: its error mapping. Handlers are methods named after the
operation (`create_domain` for CreateDomain) taking the request context and the parameters."""

from __future__ import annotations

from typing import ClassVar

from openprofiles.services import errors


class Provider:
    """Base of the two providers, the only place where wire names meet domain objects."""

    #: The modeled exception each domain error becomes.
    error_codes: ClassVar[dict[type[errors.ServiceError], str]]

    def error_code(self, error: errors.ServiceError) -> str:
        for kind in type(error).__mro__:
            if kind in self.error_codes:
                return self.error_codes[kind]
        return "InternalServerException"
