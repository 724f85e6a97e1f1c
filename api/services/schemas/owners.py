"""Taking a lead from a queue and handing it off, as the API accepts them."""

from __future__ import annotations

from pydantic import Field

from api.services.schemas.common import Input, Reason
from api.services.schemas.sellers import Handle


class TakeRequest(Input):
    """Taking a lead of a queue the caller works, for the seller their key acts for."""

    reason: Reason | None = Field(default=None, description="Why, kept on the assignment.")


class HandOffRequest(Input):
    """Handing a lead one owns to an active seller of the same team, with the reason."""

    to: Handle = Field(description="The handle of the seller who takes the lead over.")
    reason: Reason = Field(description="Why, kept on the assignment.")
    exceed_capacity: bool = Field(
        default=False,
        description="Admins only: give the lead even to a seller at capacity.",
    )
