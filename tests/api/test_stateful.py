"""Random moves through the API, checked against a small model of the bundled process:
refused moves change nothing, history equals the accepted moves, and the version rises by
exactly one per accepted change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient

STAGES = [
    "inquiry",
    "automated_marketing_qualification",
    "teleprospecting_acceptance",
    "teleprospecting_qualification",
    "sales_acceptance",
]
INQ, AMQ, TA, TQ, SA = STAGES
# trigger -> (sources, destination, field that must be true)
TRIGGERS: dict[str, tuple[set[str], str, str | None]] = {
    "begin_marketing_qualification": ({INQ}, AMQ, None),
    "hand_to_teleprospecting": ({INQ, AMQ}, TA, "teleprospecting_ready"),
    "start_teleprospecting": ({TA}, TQ, "teleprospect_accepted"),
    "hand_to_sales": ({INQ, AMQ, TA, TQ}, SA, "sales_ready"),
}
REQUIRED = {TA: ["teleprospect_accepted"], TQ: ["sales_ready"]}
# A boolean field that becomes true fires this trigger when it can.
AUTOMATIONS = {
    "teleprospecting_ready": "hand_to_teleprospecting",
    "teleprospect_accepted": "start_teleprospecting",
    "sales_ready": "hand_to_sales",
}
BOOLEANS = ["sales_ready", "teleprospecting_ready", "teleprospect_accepted"]


@dataclass
class Model:
    stage: str = INQ
    version: int = 1
    # sales_ready is a column (false by default); the others are attributes, unset at first.
    fields: dict[str, bool | None] = field(
        default_factory=lambda: {"sales_ready": False} | dict.fromkeys(BOOLEANS[1:])
    )
    history: list[tuple[str, str, str | None]] = field(default_factory=list)

    def can_fire(self, trigger: str) -> bool:
        sources, _, needs = TRIGGERS[trigger]
        return self.stage in sources and (needs is None or self.fields[needs] is True)

    def fire(self, trigger: str) -> None:
        destination = TRIGGERS[trigger][1]
        self.history.append((self.stage, destination, trigger))
        self.stage = destination

    def next_outcome(self) -> int:
        """200, or 409 when the stage is last or misses a required step."""
        if self.stage == SA or any(
            self.fields[f] is not True for f in REQUIRED.get(self.stage, [])
        ):
            return 409
        self.history.append((self.stage, STAGES[STAGES.index(self.stage) + 1], "next"))
        self.stage = STAGES[STAGES.index(self.stage) + 1]
        return 200


class LeadMoves(RuleBasedStateMachine):
    client: TestClient  # type: ignore[type-arg]

    @initialize()
    def new_lead(self) -> None:
        response = self.client.post("/api/leads", json={"topic": "stateful"})
        assert response.status_code == 201
        self.lead_id = response.json()["id"]
        self.model = Model()

    def _send(
        self, method: str, path: str, body: dict[str, Any], version: int | None = None
    ) -> Any:
        version = self.model.version if version is None else version
        return self.client.request(
            method,
            f"/api/leads/{self.lead_id}{path}",
            json=body,
            headers={"If-Match": f'"{version}"'},
        )

    def _accepted(self, response: Any) -> None:
        assert response.status_code == 200, response.text
        self.model.version += 1

    @rule()
    def complete_stage(self) -> None:
        expected = self.model.next_outcome()
        response = self._send("POST", "/stage", {"action": "next"})
        assert response.status_code == expected, response.text
        if expected == 200:
            self._accepted(response)

    @rule(trigger=st.sampled_from(sorted(TRIGGERS)))
    def fire(self, trigger: str) -> None:
        allowed = self.model.can_fire(trigger)
        response = self._send("POST", "/stage", {"trigger": trigger})
        if allowed:
            self.model.fire(trigger)
            self._accepted(response)
        else:
            assert response.status_code == 409, response.text

    @rule(stage=st.sampled_from(STAGES))
    def switch(self, stage: str) -> None:
        response = self._send("POST", "/stage", {"to": stage, "reason": "hypothesis"})
        if stage == self.model.stage:
            assert response.status_code == 409
            return
        self.model.history.append((self.model.stage, stage, None))
        self.model.stage = stage
        self._accepted(response)

    @rule(name=st.sampled_from(BOOLEANS), value=st.booleans())
    def set_field(self, name: str, value: bool) -> None:
        body: dict[str, Any] = (
            {name: value} if name == "sales_ready" else {"attributes": {name: value}}
        )
        response = self._send("PATCH", "", body)
        changed = self.model.fields[name] is not value
        became_true = changed and value
        self.model.fields[name] = value
        if became_true and self.model.can_fire(AUTOMATIONS[name]):
            self.model.fire(AUTOMATIONS[name])
        if changed:
            self._accepted(response)
        else:
            assert response.status_code == 200

    @rule(lag=st.integers(min_value=1, max_value=3))
    def stale_move(self, lag: int) -> None:
        response = self._send(
            "POST", "/stage", {"action": "next"}, version=self.model.version - lag
        )
        assert response.status_code == 412

    @invariant()
    def lead_matches_model(self) -> None:
        if not hasattr(self, "model"):
            return
        lead = self.client.get(f"/api/leads/{self.lead_id}").json()
        assert lead["stage"] == self.model.stage
        assert lead["version"] == self.model.version
        assert lead["sales_ready"] == self.model.fields["sales_ready"]
        history = self.client.get(f"/api/leads/{self.lead_id}/history?limit=200").json()["items"]
        assert [
            (h["from_stage"], h["to_stage"], h["trigger"]) for h in history
        ] == self.model.history


def test_random_moves_agree_with_the_model(client: TestClient) -> None:  # type: ignore[type-arg]
    LeadMoves.client = client
    run_state_machine_as_test(
        LeadMoves,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
