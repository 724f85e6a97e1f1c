"""Checks a stages.yaml file and reports every problem with its line and a suggestion."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bpf import yamlfile
from bpf.durations import HINT as DURATION_HINT
from bpf.durations import parse_duration
from bpf.fields import BUILTIN_FIELDS, FieldType, FieldValueError, check_value
from bpf.schema import (
    ANY_STAGE,
    NEXT,
    SWITCHES,
    SYSTEM_OUTCOMES,
    ActivityDef,
    AutomationDef,
    ProcessDef,
    StagesFileDef,
    TransitionDef,
)
from leads.activity_kinds import ActivityKind

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class StagesFileError(Exception):
    """stages.yaml cannot be used; `problems` says every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


def suggest(name: str, known: Iterable[str]) -> str | None:
    """A "did you mean" for a misspelt or abbreviated name, if one is close enough."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if len(k) >= 3 and (name.startswith(k) or k.startswith(name))]
    return f"did you mean '{close[0]}'?" if close else None


def _known(kind: str, names: Iterable[str]) -> str:
    names = sorted(names)
    return f"known {kind}: {', '.join(names)}" if names else f"no {kind} are declared"


def parse(text: str, filename: str) -> StagesFileDef:
    """Parse and check stages.yaml text; raise StagesFileError listing every problem."""
    try:
        tree = yamlfile.load(text)
    except yamlfile.YamlSyntaxError as exc:
        raise StagesFileError(
            [Problem(filename, exc.line, f"YAML syntax: {exc.message}", f"column {exc.column}")]
        ) from None
    if not isinstance(tree, dict):
        raise StagesFileError(
            [Problem(filename, 1, "the file must be a mapping with a 'processes' list")]
        )
    try:
        doc = StagesFileDef.model_validate(tree)
    except ValidationError as exc:
        raise StagesFileError(_schema_problems(exc, tree, filename)) from None
    found = [
        Problem(filename, yamlfile.line_of(tree, path), message, hint)
        for path, message, hint in _meaning_problems(doc)
    ]
    if found:
        raise StagesFileError(sorted(found, key=lambda p: p.line))
    return doc


def read(path: Path) -> StagesFileDef:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(str(path), 1, f"cannot read the file: {exc.strerror}")
        raise StagesFileError([problem]) from None
    except UnicodeDecodeError:
        raise StagesFileError([Problem(str(path), 1, "the file is not UTF-8 text")]) from None
    return parse(text, str(path))


# -- schema errors ------------------------------------------------------------------------

_PATTERN_HINT = "names use lower-case letters, digits and _, and start with a letter"


def _schema_problems(exc: ValidationError, tree: Any, filename: str) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = ".".join(str(p) for p in loc) or "file"
        line = yamlfile.line_of(tree, loc)
        hint = None
        if error["type"] == "extra_forbidden":
            key = str(loc[-1])
            message = f"unknown key '{key}' in {'.'.join(str(p) for p in loc[:-1]) or 'file'}"
            hint = suggest(key, _model_keys(loc[:-1]))
            if hint is None:
                hint = _known("keys", _model_keys(loc[:-1]))
        elif error["type"] == "string_pattern_mismatch":
            message = f"{where}: {error['input']!r} is not a valid name"
            hint = _PATTERN_HINT
        elif error["type"] == "missing":
            message = f"{where} is required"
        else:
            message = f"{where}: {error['msg'][0].lower()}{error['msg'][1:]}"
        problems.append(Problem(filename, line, message, hint))
    return sorted(problems, key=lambda p: p.line)


def _model_keys(loc: Path_) -> list[str]:
    """Field names of the model found at `loc` inside StagesFileDef."""
    model: Any = StagesFileDef
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _inner_model(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


# -- meaning ------------------------------------------------------------------------------

Found = tuple[Path_, str, str | None]


def _meaning_problems(doc: StagesFileDef) -> list[Found]:
    found: list[Found] = []
    names = [p.name for p in doc.processes]
    for i, name in enumerate(names):
        if name in names[:i]:
            found.append((("processes", i, "name"), f"process '{name}' is declared twice", None))
    defaults = [i for i, p in enumerate(doc.processes) if p.default]
    if len(doc.processes) > 1 and not defaults:
        found.append(
            (
                ("processes",),
                "no process is the default for new leads",
                "mark exactly one process with default: true",
            )
        )
    for i in defaults[1:]:
        found.append(
            (
                ("processes", i, "default"),
                f"process '{doc.processes[i].name}' is a second default",
                f"'{doc.processes[defaults[0]].name}' is already the default",
            )
        )
    for old, new in doc.renamed_processes.items():
        if new not in names:
            found.append(
                (
                    ("renamed_processes", old),
                    f"process '{old}' is renamed to '{new}', which is not declared",
                    suggest(new, names),
                )
            )
        if old in names:
            found.append(
                (
                    ("renamed_processes", old),
                    f"process '{old}' is renamed but still declared",
                    "remove the rename, or the old process",
                )
            )
    found.extend(_repeated(("opportunities", "lost_reasons"), doc.opportunities.lost_reasons))
    field_types = _field_types(doc, found)
    for i, process in enumerate(doc.processes):
        found.extend(_process_problems(("processes", i), process, field_types))
    return found


def _field_types(doc: StagesFileDef, found: list[Found]) -> dict[str, FieldType]:
    """The type of every step field; one field has one type in every process and stage."""
    types_: dict[str, FieldType] = dict(BUILTIN_FIELDS)
    declared_at: dict[str, str] = {}
    for i, process in enumerate(doc.processes):
        for j, stage in enumerate(process.stages):
            for k, step in enumerate(stage.steps):
                path = ("processes", i, "stages", j, "steps", k)
                builtin = BUILTIN_FIELDS.get(step.field)
                if builtin is not None:
                    if step.type is not None and step.type != builtin:
                        found.append(
                            (
                                (*path, "type"),
                                f"'{step.field}' is a built-in {builtin.value} field",
                                "leave out 'type' for built-in fields",
                            )
                        )
                    continue
                if step.type is None:
                    found.append(
                        (
                            (*path, "field"),
                            f"'{step.field}' is not a built-in field and declares no type",
                            suggest(step.field, BUILTIN_FIELDS)
                            or "custom fields declare a type: "
                            + ", ".join(t.value for t in FieldType),
                        )
                    )
                    continue
                if step.type in (FieldType.CONTACT, FieldType.ACCOUNT):
                    found.append(
                        (
                            (*path, "type"),
                            f"custom field '{step.field}' cannot be of type {step.type.value}",
                            "use parent_contact_id or parent_account_id",
                        )
                    )
                if step.type is FieldType.CHOICE and not step.choices:
                    found.append(
                        (
                            (*path, "choices"),
                            f"choice field '{step.field}' lists no choices",
                            None,
                        )
                    )
                seen = types_.get(step.field)
                if seen is not None and seen != step.type:
                    found.append(
                        (
                            (*path, "type"),
                            f"field '{step.field}' is declared as {step.type.value} here "
                            f"and as {seen.value} in {declared_at[step.field]}",
                            "a field has one type everywhere",
                        )
                    )
                else:
                    types_[step.field] = step.type
                    declared_at.setdefault(step.field, f"{process.name}.{stage.name}")
    return types_


def _process_problems(
    at: Path_, process: ProcessDef, field_types: dict[str, FieldType]
) -> list[Found]:
    stages = [s.name for s in process.stages]
    return [
        *_stage_problems(at, process, stages),
        *_transition_problems(at, process, stages, field_types),
        *_automation_problems(at, process, stages, field_types),
        *_rename_problems(at, process, stages),
        *_unreached_problems(at, process),
        *_closing_problems(at, process, stages),
    ]


def _repeated(at: Path_, names: Sequence[str]) -> list[Found]:
    """A name listed twice under `at` (a list of reasons or stages)."""
    return [
        ((*at, k), f"'{name}' is listed twice in {at[-1]}", "list each name once")
        for k, name in enumerate(names)
        if name in names[:k]
    ]


def _closing_problems(at: Path_, process: ProcessDef, stages: list[str]) -> list[Found]:
    """The disqualify reasons are listed once each; the stages a lead is qualified from are
    stages of the process, listed once each."""
    found = _repeated((*at, "disqualify_reasons"), process.disqualify_reasons or [])
    qualify_from = process.qualify_from or []
    found += _repeated((*at, "qualify_from"), qualify_from)
    found += [
        _unknown_stage((*at, "qualify_from", k), stage, "qualify_from stage", process, stages)
        for k, stage in enumerate(qualify_from)
        if stage not in stages
    ]
    return found


def _unknown_stage(
    path: Path_, name: str, role: str, process: ProcessDef, stages: list[str]
) -> Found:
    return (
        path,
        f"{role} '{name}' is not a stage of process '{process.name}'",
        suggest(name, stages) or _known("stages", stages),
    )


def _stage_problems(at: Path_, process: ProcessDef, stages: list[str]) -> list[Found]:
    found: list[Found] = []
    for j, stage in enumerate(process.stages):
        if stage.name in stages[:j]:
            found.append(
                ((*at, "stages", j, "name"), f"stage '{stage.name}' is declared twice", None)
            )
        fields = [s.field for s in stage.steps]
        for k, field in enumerate(fields):
            if field in fields[:k]:
                found.append(
                    (
                        (*at, "stages", j, "steps", k, "field"),
                        f"step '{field}' appears twice in stage '{stage.name}'",
                        None,
                    )
                )
        if stage.next_declared and stage.next is not None and stage.next not in stages:
            found.append(
                _unknown_stage(
                    (*at, "stages", j, "next"), stage.next, "next stage", process, stages
                )
            )
        for k, activity in enumerate(stage.activities):
            found.extend(activity_problems((*at, "stages", j, "activities", k), activity))
        if stage.routes_to_sales and stage.queue not in (None, "sales"):
            found.append(
                (
                    (*at, "stages", j, "queue"),
                    f"stage '{stage.name}' routes leads to sales but lists them in the "
                    f"{stage.queue} queue",
                    "a stage that routes to sales is in the sales queue: leave out 'queue'",
                )
            )
    return found


def _transition_problems(
    at: Path_, process: ProcessDef, stages: list[str], field_types: dict[str, FieldType]
) -> list[Found]:
    found: list[Found] = []
    unguarded: dict[tuple[str, str], int] = {}
    for j, transition in enumerate(process.transitions):
        path = (*at, "transitions", j)
        if transition.trigger == NEXT:
            found.append(
                (
                    (*path, "trigger"),
                    "'next' is the built-in trigger that completes a stage",
                    "give this transition another name, or set the stage's 'next'",
                )
            )
        if transition.dest not in stages:
            found.append(
                _unknown_stage((*path, "dest"), transition.dest, "destination", process, stages)
            )
        found.extend(_source_problems(path, transition, process, stages))
        found.extend(_shadowed_problems(path, j, transition, stages, unguarded))
        found.extend(_guard_problems(path, transition, process, field_types))
    return found


def _source_problems(
    path: Path_, transition: TransitionDef, process: ProcessDef, stages: list[str]
) -> list[Found]:
    found: list[Found] = []
    sources = [transition.source] if isinstance(transition.source, str) else transition.source
    for k, source in enumerate(sources):
        source_path = (
            (*path, "source", k) if isinstance(transition.source, list) else (*path, "source")
        )
        if source == ANY_STAGE:
            continue
        if source not in stages:
            found.append(_unknown_stage(source_path, source, "source", process, stages))
        elif source == transition.dest:
            found.append(
                (source_path, f"'{transition.trigger}' leads from '{source}' to itself", None)
            )
    return found


def _shadowed_problems(
    path: Path_,
    j: int,
    transition: TransitionDef,
    stages: list[str],
    unguarded: dict[tuple[str, str], int],
) -> list[Found]:
    """Pairs of trigger and source that an earlier transition without guards always takes;
    `unguarded` gathers, transition by transition, where each such pair was first declared."""
    found: list[Found] = []
    for source in transition.sources(stages):
        key = (transition.trigger, source)
        if key in unguarded:
            found.append(
                (
                    (*path, "trigger"),
                    f"'{transition.trigger}' from '{source}' is never taken: transition "
                    f"{unguarded[key] + 1} has the same trigger and source and no guards",
                    "give the earlier transition a guard, or remove this one",
                )
            )
        elif not transition.guards:
            unguarded[key] = j
    return found


def _guard_problems(
    path: Path_,
    transition: TransitionDef,
    process: ProcessDef,
    field_types: dict[str, FieldType],
) -> list[Found]:
    found: list[Found] = []
    for k, guard in enumerate(transition.guards):
        field_type = field_types.get(guard.field)
        if field_type is None:
            found.append(
                (
                    (*path, "guards", k, "field"),
                    f"guard reads '{guard.field}', which is not a step field",
                    suggest(guard.field, field_types) or _known("fields", field_types),
                )
            )
            continue
        for value in [guard.equals] if "equals" in guard.model_fields_set else guard.one_of or []:
            try:
                check_value(field_type, value, choices=_choices(process, guard.field))
            except FieldValueError as exc:
                found.append(
                    ((*path, "guards", k), f"guard value {value!r} for '{guard.field}' {exc}", None)
                )
    return found


def _automation_problems(
    at: Path_, process: ProcessDef, stages: list[str], field_types: dict[str, FieldType]
) -> list[Found]:
    found: list[Found] = []
    triggers = {t.trigger for t in process.transitions}
    outcomes = set(SYSTEM_OUTCOMES) | {
        step.field
        for p_stage in process.stages
        for step in p_stage.steps
        if field_types.get(step.field) is FieldType.BOOLEAN
    }
    for j, automation in enumerate(process.automations):
        path = (*at, "automations", j)
        if automation.after is not None or automation.when is None:
            found.extend(_timed_problems(path, process, automation, stages))
        elif automation.stage is not None:
            found.append(
                (
                    (*path, "stage"),
                    "stage belongs with after: an automation fired by an outcome fires in "
                    "whatever stage the lead is",
                    "remove stage, or replace when by after: <duration>",
                )
            )
        elif automation.when not in outcomes:
            found.append(
                (
                    (*path, "when"),
                    f"automation waits for '{automation.when}', which is not an outcome",
                    suggest(automation.when, outcomes) or _known("outcomes", outcomes),
                )
            )
        found.extend(_automation_target_problems(path, process, automation, triggers))
    return found


def _automation_target_problems(
    path: Path_, process: ProcessDef, automation: AutomationDef, triggers: set[str]
) -> list[Found]:
    found: list[Found] = []
    if automation.fire not in triggers:
        found.append(
            (
                (*path, "fire"),
                f"automation fires '{automation.fire}', which is not a trigger of "
                f"process '{process.name}'",
                suggest(automation.fire, triggers) or _known("triggers", triggers),
            )
        )
    if automation.switch is not None and automation.switch not in SWITCHES:
        found.append(
            (
                (*path, "switch"),
                f"automation is gated by '{automation.switch}', which is not a switch",
                suggest(automation.switch, SWITCHES) or _known("switches", SWITCHES),
            )
        )
    return found


def _rename_problems(at: Path_, process: ProcessDef, stages: list[str]) -> list[Found]:
    found: list[Found] = []
    for old, new in process.renamed.items():
        if new not in stages:
            found.append(
                _unknown_stage((*at, "renamed", old), new, "renamed stage target", process, stages)
            )
        if old in stages:
            found.append(
                (
                    (*at, "renamed", old),
                    f"stage '{old}' is renamed but still declared",
                    "remove the rename, or the old stage",
                )
            )
    return found


def _unreached_problems(at: Path_, process: ProcessDef) -> list[Found]:
    reached = _reached(process)
    return [
        (
            (*at, "stages", j, "name"),
            f"nothing reaches stage '{stage.name}': no transition leads to it and "
            "no stage completes into it",
            "add a transition to it, or remove the stage",
        )
        for j, stage in enumerate(process.stages[1:], start=1)
        if stage.name not in reached
    ]


ACTIVITY_KINDS = [k.value for k in ActivityKind]


def activity_problems(at: Path_, activity: ActivityDef) -> list[Found]:
    """What is wrong with an activity declaration: an unknown kind, a due_in that is no duration."""
    found: list[Found] = []
    if activity.kind not in ACTIVITY_KINDS:
        found.append(
            (
                (*at, "kind"),
                f"activity kind '{activity.kind}' is not a kind of activity",
                suggest(activity.kind, ACTIVITY_KINDS) or _known("kinds", ACTIVITY_KINDS),
            )
        )
    try:
        parse_duration(activity.due_in)
    except ValueError as exc:
        found.append(((*at, "due_in"), f"due_in: {exc}", DURATION_HINT))
    return found


def _timed_problems(
    path: Path_, process: ProcessDef, automation: AutomationDef, stages: list[str]
) -> list[Found]:
    """An automation fired by time: `after` a duration in `stage`, by a trigger that leaves it."""
    if automation.after is None:
        return [
            (
                path,
                "automation says neither when (an outcome) nor after (a time in a stage)",
                "add when: <outcome>, or after: 30d with stage: <stage>",
            )
        ]
    found: list[Found] = []
    if automation.when is not None:
        found.append(
            (
                (*path, "when"),
                "automation has both when and after",
                "an automation waits for an outcome or for time in a stage, not both",
            )
        )
    try:
        parse_duration(automation.after)
    except ValueError as exc:
        found.append(((*path, "after"), str(exc), DURATION_HINT))
    if automation.stage is None:
        found.append(
            (
                (*path, "after"),
                "automation with after names no stage",
                "add stage: <the stage a lead sits in>",
            )
        )
    elif automation.stage not in stages:
        found.append(
            (
                (*path, "stage"),
                f"stage '{automation.stage}' is not a stage of process '{process.name}'",
                suggest(automation.stage, stages) or _known("stages", stages),
            )
        )
    else:
        leaving = {t.trigger for t in process.transitions if automation.stage in t.sources(stages)}
        known = {t.trigger for t in process.transitions}
        if automation.fire in known and automation.fire not in leaving:
            found.append(
                (
                    (*path, "fire"),
                    f"'{automation.fire}' does not leave stage '{automation.stage}', so this "
                    "automation would never move a lead",
                    _known("triggers from that stage", leaving),
                )
            )
    return found


def _choices(process: ProcessDef, field: str) -> list[str] | None:
    for stage in process.stages:
        for step in stage.steps:
            if step.field == field and step.choices:
                return list(step.choices)
    return None


def _reached(process: ProcessDef) -> set[str]:
    stages = [s.name for s in process.stages]
    edges: dict[str, set[str]] = {s: set() for s in stages}
    for stage, following in completion_targets(process).items():
        edges[stage].add(following)
    for transition in process.transitions:
        for source in transition.sources(stages):
            if source in edges:
                edges[source].add(transition.dest)
    reached = {stages[0]}
    frontier = [stages[0]]
    while frontier:
        for dest in edges.get(frontier.pop(), ()):
            if dest not in reached:
                reached.add(dest)
                frontier.append(dest)
    return reached


def completion_targets(process: ProcessDef) -> dict[str, str]:
    """Where 'next' leads from each stage that can be completed."""
    names = [s.name for s in process.stages]
    targets = {}
    for i, stage in enumerate(process.stages):
        if stage.next_declared:
            if stage.next is not None:
                targets[stage.name] = stage.next
        elif i + 1 < len(names):
            targets[stage.name] = names[i + 1]
    return targets
