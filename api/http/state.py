"""What request handlers work with: the service's parts, held in the application's state.

Handlers read them from the request rather than through dependency injection, which costs a
request more than the work of most handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State

import bpf
from api.http.auth import KeyCache
from api.http.rate_limits import RateLimits
from api.jobs.scheduler import Scheduler
from api.settings import Settings
from api.storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    catalog: bpf.Catalog  # replaced whole when stages.yaml is reloaded
    scheduler: Scheduler  # runs the jobs in this process, or only records what is asked
    key_cache: KeyCache
    rate_limits: RateLimits


def services(request: Request[Any, Any, State]) -> Services:
    found: Services = request.app.state.services
    return found
