"""Deployments: diagrams validated and stored as versions (a version per content; a running
instance stays on its version)."""
from __future__ import annotations

from sqlalchemy import select

from shared import clock
from shared.db import transaction
from shared.errors import DiagramRefused, NotFound
from shared.workflow import parser as diagram_parser

from .models import ProcessVersion
from .store import iso


class Deployments:
    def __init__(self, store):
        self.store = store

    def validate(self, files: dict):
        """Parse ``files``; raise DiagramRefused naming every problem, or return definitions.

        The refusal's details carry ``problems`` (one line each: file, line, element, label,
        message and hint), ``problem_details`` (the same as fields) and ``notes`` (processes kept
        as documentation)."""
        try:
            return diagram_parser.parse(files)
        except diagram_parser.DiagramError as exc:
            raise DiagramRefused(
                f"{len(exc.problems)} problem(s) in {', '.join(sorted(files))}",
                {"problems": [str(p) for p in exc.problems],
                 "problem_details": [p.to_dict() for p in exc.problems],
                 "notes": exc.notes}) from None

    def deploy(self, files: dict, actor: str = "designer") -> list[dict]:
        """Validate and store ``files``; each new content is a new version. Returns what was stored."""
        definitions = self.validate(files)
        out = []
        with transaction(self.store.sessions) as s:
            for definition in definitions:
                existing = s.scalar(select(ProcessVersion).where(
                    ProcessVersion.process_id == definition.process_id,
                    ProcessVersion.version == definition.version))
                if existing is not None:
                    out.append({"process_id": definition.process_id, "version": definition.version,
                                "id": existing.id, "new": False, "notes": definition.notes})
                    continue
                row = ProcessVersion(
                    process_id=definition.process_id, name=definition.name, version=definition.version,
                    spec=definition.spec, files=definition.files, deployed_at=clock.now(),
                    deployed_by=actor)
                s.add(row)
                s.flush()
                out.append({"process_id": definition.process_id, "version": definition.version,
                            "id": row.id, "new": True, "notes": definition.notes})
        return out

    def versions(self, process_id: str | None = None) -> list[dict]:
        with transaction(self.store.sessions) as s:
            query = select(ProcessVersion).order_by(ProcessVersion.id)
            if process_id:
                query = query.where(ProcessVersion.process_id == process_id)
            return [{"id": v.id, "process_id": v.process_id, "name": v.name, "version": v.version,
                     "deployed_at": iso(v.deployed_at), "deployed_by": v.deployed_by}
                    for v in s.scalars(query)]

    @staticmethod
    def latest(s, process_id: str) -> ProcessVersion:
        """The version new instances of ``process_id`` start on."""
        version = s.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                           .order_by(ProcessVersion.id.desc()).limit(1))
        if version is None:
            raise NotFound(f"no process '{process_id}' is deployed")
        return version
