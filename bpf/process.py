"""Business processes at run time: one transitions machine per process, shared by all leads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from transitions import EventData, Machine, MachineError

from bpf.errors import GuardRefused, MoveNotAllowed, StagesInUse, UnknownName
from bpf.fields import BUILTIN_FIELDS, FieldType, check_value, is_filled
from bpf.schema import (
    DEFAULT_DISQUALIFY_REASONS,
    NEXT,
    ActivityDef,
    GuardDef,
    ProcessDef,
    StagesFileDef,
)
from bpf.validation import completion_targets, read, suggest


class LeadLike(Protocol):
    """What bpf reads and writes on a lead."""

    process: str
    stage: str

    def field_value(self, name: str) -> Any: ...


@dataclass(frozen=True)
class Move:
    from_stage: str
    to_stage: str
    trigger: str | None  # None for a switch to a chosen stage
    from_process: str | None = None  # set when the lead changed process


@dataclass(frozen=True)
class StepField:
    name: str
    type: FieldType
    choices: list[str] | None


class _Carrier:
    """What the machine fires on: its `state` is the lead's stage."""

    __slots__ = ("lead", "refusals")

    def __init__(self, lead: LeadLike) -> None:
        self.lead = lead
        self.refusals: list[tuple[str, str | None]] = []

    @property
    def state(self) -> str:
        return self.lead.stage

    @state.setter
    def state(self, value: str) -> None:
        self.lead.stage = value


Condition = Callable[[EventData], bool]


class Process:
    def __init__(self, definition: ProcessDef, fields: Mapping[str, StepField]) -> None:
        self.definition = definition
        self.name = definition.name
        self.stages = [s.name for s in definition.stages]
        self.first_stage = self.stages[0]
        self._fields = fields
        self._required = {
            s.name: [step.field for step in s.steps if step.required] for s in definition.stages
        }
        self._on_entry = {s.name: tuple(s.activities) for s in definition.stages}
        self.disqualify_reasons = tuple(definition.disqualify_reasons or DEFAULT_DISQUALIFY_REASONS)
        self.qualify_from = tuple(definition.qualify_from or self.stages)
        self.declares_activities = any(self._on_entry.values())
        specs: list[dict[str, Any]] = [
            {
                "trigger": NEXT,
                "source": stage,
                "dest": dest,
                "conditions": [self._steps_done(stage)],
            }
            for stage, dest in completion_targets(definition).items()
        ]
        for transition in definition.transitions:
            spec: dict[str, Any] = {
                "trigger": transition.trigger,
                "source": transition.sources(self.stages),
                "dest": transition.dest,
            }
            if transition.guards:
                spec["conditions"] = [self._guards_hold(transition.guards)]
            specs.append(spec)
        self.machine = Machine(
            model=None,
            states=self.stages,
            transitions=specs,
            initial=None,
            auto_transitions=False,
            send_event=True,
        )
        self.triggers = sorted({t.trigger for t in definition.transitions})

    @property
    def title(self) -> str:
        return self.definition.title

    # -- conditions ------------------------------------------------------------------------

    def _steps_done(self, stage: str) -> Condition:
        required = self._required[stage]

        def check(event: EventData) -> bool:
            carrier: _Carrier = event.model
            missing = [
                f
                for f in required
                if not is_filled(self._fields[f].type, carrier.lead.field_value(f))
            ]
            for field in missing:
                carrier.refusals.append((f"required step '{field}' is missing", field))
            return not missing

        return check

    def _guards_hold(self, guards: list[GuardDef]) -> Condition:
        def check(event: EventData) -> bool:
            carrier: _Carrier = event.model
            ok = True
            for guard in guards:
                reason = _guard_failure(guard, carrier.lead.field_value(guard.field))
                if reason is not None:
                    carrier.refusals.append((reason, None))
                    ok = False
            return ok

        return check

    # -- moves -----------------------------------------------------------------------------

    def allowed_moves(self, stage: str) -> list[str]:
        """Triggers valid from this stage (guards aside), plus switching to another stage."""
        return [*self.machine.get_triggers(stage), "to:<stage>"]

    def activities_on_entry(self, stage: str) -> tuple[ActivityDef, ...]:
        """The activities a lead entering this stage gets, in the order they are declared."""
        return self._on_entry.get(stage, ())

    def missing_steps(self, lead: LeadLike) -> list[str]:
        return [
            f
            for f in self._required.get(lead.stage, [])
            if not is_filled(self._fields[f].type, lead.field_value(f))
        ]

    def qualify_refusal(self, lead: LeadLike) -> str | None:
        """Why the lead may not be qualified where it is, or None when it may: its stage is
        one the process qualifies from, and the stage's required steps are filled."""
        if lead.stage not in self.qualify_from:
            return (
                f"a lead of process '{self.name}' is qualified from "
                f"{', '.join(self.qualify_from)}, not from stage '{lead.stage}'"
            )
        missing = self.missing_steps(lead)
        if missing:
            return f"stage '{lead.stage}' has required steps missing: {', '.join(missing)}"
        return None

    def fire(self, lead: LeadLike, trigger: str) -> Move:
        """Fire a trigger (or 'next'); raise if it is unknown, not allowed here, or refused."""
        stage = lead.stage
        if trigger not in self.machine.events:
            if trigger == NEXT:
                raise MoveNotAllowed(
                    f"stage '{stage}' has no next stage", self.allowed_moves(stage)
                )
            raise UnknownName(
                "trigger",
                trigger,
                f"'{trigger}' is not a trigger of process '{self.name}'",
                suggest(trigger, [NEXT, *self.triggers]),
            )
        carrier = _Carrier(lead)
        try:
            moved = self.machine.events[trigger].trigger(carrier)
        except MachineError:
            what = "completed" if trigger == NEXT else f"left by '{trigger}'"
            raise MoveNotAllowed(
                f"stage '{stage}' cannot be {what}", self.allowed_moves(stage)
            ) from None
        if not moved:
            reasons = [reason for reason, _ in carrier.refusals]
            missing = [field for _, field in carrier.refusals if field is not None]
            raise GuardRefused(
                f"'{trigger}' is refused from stage '{stage}': {'; '.join(reasons)}",
                reasons,
                missing,
            )
        return Move(from_stage=stage, to_stage=lead.stage, trigger=trigger)

    def switch(self, lead: LeadLike, stage: str) -> Move:
        """Make `stage` the lead's active stage, wherever it is now."""
        self.check_stage(stage)
        current = lead.stage
        if stage == current:
            raise MoveNotAllowed(
                f"the lead is already in stage '{stage}'", self.allowed_moves(stage)
            )
        lead.stage = stage
        return Move(from_stage=current, to_stage=stage, trigger=None)

    def check_stage(self, stage: str) -> None:
        if stage not in self.stages:
            raise UnknownName(
                "stage",
                stage,
                f"'{stage}' is not a stage of process '{self.name}'",
                suggest(stage, self.stages),
            )

    def apply_outcomes(
        self,
        lead: LeadLike,
        outcomes: Iterable[str],
        *,
        automated: bool,
        switches: Mapping[str, bool],
    ) -> list[Move]:
        """Fire the automations waiting for any of these outcomes, each once, in the order
        stages.yaml declares them: the order the outcomes came in does not matter.

        A switch that is off stops an automation for automated actors only; an automation whose
        trigger is not allowed from the lead's stage, or whose guards refuse, does nothing.
        """
        due = set(outcomes)
        moves = []
        for automation in self.definition.automations:
            if automation.when not in due:
                continue
            if automated and automation.switch and not switches.get(automation.switch, True):
                continue
            try:
                moves.append(self.fire(lead, automation.fire))
            except (MoveNotAllowed, GuardRefused):
                continue
        return moves


def _guard_failure(guard: GuardDef, value: Any) -> str | None:
    if "equals" in guard.model_fields_set:
        return None if value == guard.equals else f"'{guard.field}' must be {_show(guard.equals)}"
    if guard.is_set is not None:
        filled = value is not None and value != ""
        if filled == guard.is_set:
            return None
        return f"'{guard.field}' must be set" if guard.is_set else f"'{guard.field}' must be empty"
    allowed = guard.one_of or []
    if value in allowed:
        return None
    return f"'{guard.field}' must be one of {', '.join(_show(v) for v in allowed)}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Relocation:
    """Leads in (process, stage) move to (new_process, new_stage) because stages.yaml renamed it."""

    process: str
    stage: str
    new_process: str
    new_stage: str
    leads: int


class Catalog:
    """Every process of one stages.yaml file."""

    def __init__(self, definition: StagesFileDef, source: str) -> None:
        self.definition = definition
        self.source = source
        self.fields = _step_fields(definition)
        self.processes = {p.name: Process(p, self.fields) for p in definition.processes}
        default = next((p for p in definition.processes if p.default), definition.processes[0])
        self.default = self.processes[default.name]
        # False when no stage declares activities: moves then cost nothing more.
        self.declares_activities = any(p.declares_activities for p in self.processes.values())
        self.lost_reasons = tuple(definition.opportunities.lost_reasons)

    def activities_on_entry(self, process: str, stage: str) -> tuple[ActivityDef, ...]:
        """What entering (process, stage) makes; nothing for a process the file does not have."""
        found = self.processes.get(process)
        return found.activities_on_entry(stage) if found is not None else ()

    def entered(self, moves: Iterable[tuple[int, str, str]]) -> dict[int, tuple[str, str]]:
        """Where each lead stays after its moves, given as (lead, process, stage) in order.

        A lead that passes through several stages in one change gets the activities of the
        stage it stays in only: the ones it passed through were never worked.
        """
        last: dict[int, tuple[str, str]] = {}
        for lead, process, stage in moves:
            last[lead] = (process, stage)
        return {lead: where for lead, where in last.items() if self.activities_on_entry(*where)}

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        return cls(read(path), str(path))

    def get(self, name: str) -> Process:
        try:
            return self.processes[name]
        except KeyError:
            raise UnknownName(
                "process", name, f"'{name}' is not a process", suggest(name, self.processes)
            ) from None

    def check_field(self, name: str, value: Any) -> Any:
        """Check a value for a step field; raise FieldValueError saying why it does not fit."""
        field = self.fields.get(name)
        if field is None:
            return value
        return check_value(field.type, value, field.choices)

    def outcomes_of_change(self, name: str, old: Any, new: Any) -> list[str]:
        """A boolean step field that becomes true is the outcome of the same name."""
        field = self.fields.get(name)
        if (
            field is not None
            and field.type is FieldType.BOOLEAN
            and new is True
            and old is not True
        ):
            return [name]
        return []

    def change_process(self, lead: LeadLike, process: str, stage: str | None = None) -> Move:
        target = self.get(process)
        if process == lead.process:
            raise MoveNotAllowed(
                f"the lead is already in process '{process}'", target.allowed_moves(lead.stage)
            )
        destination = stage or target.first_stage
        target.check_stage(destination)
        move = Move(
            from_stage=lead.stage, to_stage=destination, trigger=None, from_process=lead.process
        )
        lead.process, lead.stage = process, destination
        return move

    def relocations(self, occupied: Mapping[tuple[str, str], int]) -> list[Relocation]:
        """Where leads in stages this file no longer declares must go.

        `occupied` counts leads per (process, stage). Raise StagesInUse naming every stage that
        still holds leads and that the file neither declares nor maps to a new name.
        """
        moves: list[Relocation] = []
        problems: list[str] = []
        renamed_processes = self.definition.renamed_processes
        for (process_name, stage), count in sorted(occupied.items()):
            if count == 0:
                continue
            new_process_name = process_name
            if process_name not in self.processes:
                if process_name not in renamed_processes:
                    problems.append(
                        f"process '{process_name}' is not in {self.source} but {count} "
                        f"lead{'s are' if count != 1 else ' is'} in it (stage '{stage}'); "
                        f"map it under renamed_processes: {{{process_name}: <new name>}}"
                    )
                    continue
                new_process_name = renamed_processes[process_name]
            process = self.processes[new_process_name]
            new_stage = stage if stage in process.stages else process.definition.renamed.get(stage)
            if new_stage is None:
                problems.append(
                    f"stage '{stage}' of process '{process_name}' is not in {self.source} but "
                    f"{count} lead{'s are' if count != 1 else ' is'} in it; map it under that "
                    f"process's renamed: {{{stage}: <new stage>}}"
                )
                continue
            if (new_process_name, new_stage) != (process_name, stage):
                moves.append(Relocation(process_name, stage, new_process_name, new_stage, count))
        if problems:
            raise StagesInUse(problems)
        return moves


def _step_fields(definition: StagesFileDef) -> dict[str, StepField]:
    fields = {name: StepField(name, t, None) for name, t in BUILTIN_FIELDS.items()}
    for process in definition.processes:
        for stage in process.stages:
            for step in stage.steps:
                if step.field not in fields and step.type is not None:
                    fields[step.field] = StepField(step.field, step.type, step.choices)
    return fields
