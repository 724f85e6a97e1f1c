"""Scoring configurations: the switches of automatic scoring; the newest is in effect."""

from __future__ import annotations

from sqlmodel import col, select

from api.services.schemas.scoring import ConfigurationCreate
from api.storage.db import Database
from scoring.tables import ScoringConfiguration


def create_configuration(db: Database, data: ConfigurationCreate) -> ScoringConfiguration:
    """A new configuration, in effect from now on."""
    with db.write() as session:
        config = ScoringConfiguration(**data.model_dump())
        session.add(config)
    return config


def list_configurations(db: Database) -> list[ScoringConfiguration]:
    """Every configuration, oldest first."""
    with db.read() as session:
        return list(
            session.exec(select(ScoringConfiguration).order_by(col(ScoringConfiguration.id)))
        )
