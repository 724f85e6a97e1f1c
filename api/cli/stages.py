"""`leadflow validate` and `leadflow diagram`: a stages.yaml, checked and drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import bpf
from api.cli.errors import fail, reported
from api.settings import Settings

StagesFile = Annotated[
    Path | None,
    typer.Argument(help="A stages.yaml; default: LEADFLOW_STAGES_FILE, ./stages.yaml, bundled."),
]


def load_catalog(path: Path) -> bpf.Catalog:
    with reported(bpf.StagesFileError):
        return bpf.Catalog.from_file(path)


def validate(file: StagesFile = None) -> None:
    """Check a stages.yaml: every problem with its line, or a one-line summary."""
    path = file or Settings().stages_path()
    catalog = load_catalog(path)
    processes = catalog.definition.processes
    stages = sum(len(p.stages) for p in processes)
    transitions = sum(len(p.transitions) for p in processes)
    automations = sum(len(p.automations) for p in processes)
    typer.echo(
        f"{path}: valid: {len(processes)} process{'es' if len(processes) != 1 else ''} "
        f"(default {catalog.default.name}), {stages} stages, {transitions} transitions, "
        f"{automations} automations"
    )


def diagram(
    file: StagesFile = None,
    process: Annotated[str | None, typer.Option(help="One process; default: all.")] = None,
    svg: Annotated[
        Path | None, typer.Option(help="Also write SVG here (needs graphviz installed).")
    ] = None,
) -> None:
    """Draw the processes as Mermaid state diagrams."""
    from bpf.diagram import mermaid, svg_available
    from bpf.diagram import svg as render_svg

    catalog = load_catalog(file or Settings().stages_path())
    with reported(bpf.UnknownName):
        chosen = [catalog.get(process)] if process else list(catalog.processes.values())
    typer.echo("\n".join(mermaid(item) for item in chosen), nl=False)
    if svg is not None:
        if not svg_available():
            raise fail(["SVG needs graphviz: pip install 'leadflow[diagrams]' and the dot program"])
        if len(chosen) > 1:
            raise fail(["--svg draws one process: choose it with --process"])
        svg.write_bytes(render_svg(chosen[0]))
        typer.echo(f"wrote {svg}", err=True)
