"""The one place where what goes wrong becomes a message and an exit code."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

import bpf
from leads.errors import DomainError


def fail(lines: Iterable[str]) -> typer.Exit:
    """Print `lines` to standard error; raise what this returns to exit with code 1."""
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(code=1)


def messages(exc: Exception, *, stages: Path | None = None) -> list[str]:
    """What the command line says about `exc`, one line each; `stages` names the stages.yaml
    each problem of a bpf.StagesInUse is in, instead of listing them on one line."""
    if isinstance(exc, bpf.StagesFileError):
        return [str(p) for p in exc.problems]
    if isinstance(exc, bpf.StagesInUse) and stages is not None:
        return [f"{stages}: {p}" for p in exc.problems]
    if isinstance(exc, bpf.UnknownName):
        return [exc.message + (f"; {exc.hint}" if exc.hint else "")]
    if isinstance(exc, DomainError):
        return [exc.detail]
    return [str(exc)]


@contextmanager
def reported(
    *kinds: type[Exception], prefix: str = "", stages: Path | None = None
) -> Iterator[None]:
    """Turn an error of one of `kinds` into its `messages`, each after `prefix`, and exit
    code 1; other errors pass."""
    try:
        yield
    except kinds as exc:
        raise fail(prefix + line for line in messages(exc, stages=stages)) from None
