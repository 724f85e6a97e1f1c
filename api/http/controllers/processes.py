"""/api/processes: the business processes of stages.yaml, their diagrams, and reloading them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath
from pydantic import BaseModel, Field

import bpf
from api.http.auth import EVERYONE, roles
from api.http.state import services
from api.services import leads as lead_service
from api.services.keys import Principal
from bpf.diagram import mermaid
from bpf.schema import ProcessDef
from leads.errors import NotFound


class ProcessRead(BaseModel):
    name: str
    label: str
    default: bool
    disqualify_reasons: list[str] = Field(
        description="The reasons POST /api/leads/{id}/disqualify takes for a lead of it."
    )
    qualify_from: list[str] = Field(
        description="The stages a lead may be qualified from, once their required steps are filled."
    )
    definition: ProcessDef


class ReloadResult(BaseModel):
    source: str
    processes: list[str]
    relocated: list[dict[str, Any]]


def _read(catalog: bpf.Catalog, process: bpf.Process) -> ProcessRead:
    return ProcessRead(
        name=process.name,
        label=process.title,
        default=process is catalog.default,
        disqualify_reasons=list(process.disqualify_reasons),
        qualify_from=list(process.qualify_from),
        definition=process.definition,
    )


def _named(catalog: bpf.Catalog, name: str) -> bpf.Process:
    if name not in catalog.processes:
        raise NotFound("process", name)
    return catalog.processes[name]


class ProcessController(Controller):
    path = "/api/processes"
    tags = ["processes"]
    opt = roles(*EVERYONE)

    @get("/", sync_to_thread=False, operation_id="ListProcesses")
    def list(self, request: Request[Principal, Any, State]) -> list[ProcessRead]:
        catalog = services(request).catalog
        return [_read(catalog, p) for p in catalog.processes.values()]

    @get("/{name:str}", sync_to_thread=False, operation_id="GetProcess")
    def read(self, request: Request[Principal, Any, State], name: FromPath[str]) -> ProcessRead:
        catalog = services(request).catalog
        return _read(catalog, _named(catalog, name))

    @get(
        "/{name:str}/diagram",
        sync_to_thread=False,
        media_type=MediaType.TEXT,
        operation_id="ProcessDiagram",
    )
    def diagram(self, request: Request[Principal, Any, State], name: FromPath[str]) -> str:
        """The process as a Mermaid state diagram."""
        catalog = services(request).catalog
        return mermaid(_named(catalog, name))

    @post(
        "/reload",
        opt=roles(),
        sync_to_thread=True,
        status_code=200,
        operation_id="ReloadProcesses",
    )
    def reload(
        self,
        request: Request[Principal, Any, State],
    ) -> ReloadResult:
        """Read stages.yaml again. Refused (nothing changes) when it is invalid, or when it drops
        a stage that leads are in without mapping it to a new name."""
        db, settings = services(request).db, services(request).settings
        catalog = bpf.Catalog.from_file(settings.stages_path())
        relocations = lead_service.adopt(db, catalog)
        services(request).catalog = catalog
        return ReloadResult(
            source=catalog.source,
            processes=list(catalog.processes),
            relocated=[r.__dict__ for r in relocations],
        )
