"""What can go wrong when a lead moves through its process."""

from __future__ import annotations


class ProcessError(Exception):
    """Base of every refusal bpf gives; `message` is meant for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownName(ProcessError):
    """A process, stage or trigger the catalog does not have (the request is wrong)."""

    def __init__(self, kind: str, name: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.hint = hint


class MoveNotAllowed(ProcessError):
    """The move exists, but not from the stage the lead is in."""

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class GuardRefused(ProcessError):
    """The move is possible from this stage, but what it requires is missing."""

    def __init__(self, message: str, reasons: list[str], missing_steps: list[str]) -> None:
        super().__init__(message)
        self.reasons = reasons
        self.missing_steps = missing_steps


class StagesInUse(ProcessError):
    """A new stages.yaml drops stages or processes that leads still sit in."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
