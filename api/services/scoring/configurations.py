"""Scoring configurations: the switches of automatic scoring; the newest is in effect."""

from __future__ import annotations

from api.services.schemas.scoring import ConfigurationCreate
from api.storage.db import Database
from scoring.tables import ScoringConfiguration


def create_configuration(db: Database, data: ConfigurationCreate) -> ScoringConfiguration:
    """A new configuration, in effect from now on."""
    with db.write() as session:
        config = ScoringConfiguration(**data.model_dump())
        session.add(config)
    return config
