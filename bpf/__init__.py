"""The business process flow: stages.yaml, its processes, and how leads move through them.

bpf decides and does no I/O; it reads a lead's fields but knows nothing of storage or HTTP.
"""

from pathlib import Path

from bpf.actors import Actor, ActorKind
from bpf.durations import parse_duration
from bpf.errors import GuardRefused, MoveNotAllowed, ProcessError, StagesInUse, UnknownName
from bpf.process import Catalog, LeadLike, Move, Process, Relocation
from bpf.schema import ActivityDef
from bpf.validation import Problem, StagesFileError


def bundled_stages_file() -> Path:
    """The stages.yaml shipped with leadflow: inside the wheel, or at the top of a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "stages.yaml"
    return packaged if packaged.exists() else here.parent / "stages.yaml"


__all__ = [
    "ActivityDef",
    "Actor",
    "ActorKind",
    "Catalog",
    "GuardRefused",
    "LeadLike",
    "Move",
    "MoveNotAllowed",
    "Problem",
    "Process",
    "ProcessError",
    "Relocation",
    "StagesFileError",
    "StagesInUse",
    "UnknownName",
    "bundled_stages_file",
    "parse_duration",
]
