"""How long tests wait for live servers and for work in the background. Well above the
service's own waits (a request waits up to LEADFLOW_DATABASE_WAIT_SECONDS, 30 s by default,
for the database), so that a busy machine makes a test slower, never failing: these bound a
hang, they do not measure speed."""

from __future__ import annotations

HTTP_SECONDS = 120.0
"""An HTTP client's timeout against a live server (httpx's own default is 5 s)."""

START_SECONDS = 120.0
"""A server or process starting, until it answers."""

SETTLE_SECONDS = 120.0
"""Work in the background (an evaluation, a delivery, a job run, a lease lapsing) to end."""
