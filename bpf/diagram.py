"""Draw a process as a Mermaid state diagram, or as SVG when graphviz is installed."""

from __future__ import annotations

import shutil
from typing import Any

from transitions.extensions import GraphMachine

from bpf.process import Process
from bpf.schema import NEXT
from bpf.validation import completion_targets


class _LabelledGraphMachine(GraphMachine):  # type: ignore[misc]
    class state_cls(GraphMachine.state_cls):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.label = label


def _graph_machine(process: Process, engine: str) -> Any:
    definition = process.definition
    states = [{"name": s.name, "label": s.title} for s in definition.stages]
    transitions = [
        {"trigger": NEXT, "source": source, "dest": dest}
        for source, dest in completion_targets(definition).items()
    ]
    for t in definition.transitions:
        transitions.append(
            {
                "trigger": t.trigger,
                "label": t.label or t.trigger,
                "source": t.sources(process.stages),
                "dest": t.dest,
            }
        )
    return _LabelledGraphMachine(
        states=states,
        transitions=transitions,
        initial=process.first_stage,
        auto_transitions=False,
        graph_engine=engine,
        title=process.title,
        show_state_attributes=False,
    )


def mermaid(process: Process) -> str:
    """The process as Mermaid `stateDiagram-v2` text."""
    text: str = _graph_machine(process, "mermaid").get_graph().draw(None)
    # transitions writes the title as a bare front-matter line, styles an "active" state, which
    # a process drawing has none of, and ends labels with graphviz's left-justify escape.
    text = text.replace(f"---\n{process.title}\n---", f"---\ntitle: {process.title}\n---", 1)
    lines = [
        line.replace("\\l", "")
        for line in text.splitlines()
        if not line.lstrip().startswith(("classDef ", "Class ")) and line.strip()
    ]
    return "\n".join(lines) + "\n"


def svg_available() -> bool:
    if shutil.which("dot") is None:
        return False
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


def svg(process: Process) -> bytes:
    """The process as SVG; needs the graphviz package and its `dot` program."""
    data: bytes = _graph_machine(process, "graphviz").get_graph().pipe(format="svg")
    return data
