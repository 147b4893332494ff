"""Deployments: diagrams validated and stored as versions, and the version designers choose for
new instances.

A version is named by its content (a hash of the files) and numbered per process (1, 2, 3…). Each
process has at most one *active* version — the one new instances start on — chosen, with who and
when, in the append-only ``activations`` log:

- a deploy of new content stores a version and makes it active, unless it is a *draft*
  (``draft=True``): a draft is stored and checked but nothing starts on it until it is activated;
- a deploy of content already stored (the known-good file of a rollback) makes that version active
  again — it does not answer "unchanged" while another version stays active; deployed as a draft,
  a known version is left as it is;
- :meth:`Deployments.activate` chooses any stored version (a rollback, or a draft going live).

Running instances stay on their version whatever is activated; ``ztc instances migrate`` moves them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from shared import clock
from shared.db import transaction
from shared.errors import DiagramRefused, InvalidInput, NotFound
from shared.workflow import coverage_run
from shared.workflow import diff as diagram_diff
from shared.workflow import parser as diagram_parser

from .models import Activation, Instance, ProcessVersion
from .store import ENDED, InstanceStore, iso

# The active version of a process (its newest activation), id and label only; built once.
ACTIVE_LABEL = (
    select(ProcessVersion.id, ProcessVersion.version)
    .join(Activation, Activation.version_id == ProcessVersion.id)
    .where(Activation.process_id == bindparam("process_id"))
    .order_by(Activation.id.desc())
    .limit(1)
)


def version_label(v: ProcessVersion) -> str:
    return f"{v.process_id} version {v.number} ({v.version})"


# How long a version's scenarios may run in their child process (the proposal's take seconds).
COVERAGE_TIMEOUT_SECONDS = 300


class Deployments:
    def __init__(self, store: InstanceStore) -> None:
        self.store = store
        # A version's coverage is fixed by its content and its scenario file's: kept once measured.
        self._coverages: dict[tuple[str, str], dict[str, Any]] = {}

    def validate(self, files: Mapping[str, bytes | str]) -> list[diagram_parser.ProcessDefinition]:
        """Parse ``files``; raise DiagramRefused naming every problem, or return definitions.

        The refusal's details carry ``problems`` (one line each: file, line, element, label,
        message and hint), ``problem_details`` (the same as fields) and ``notes`` (processes kept
        as documentation)."""
        try:
            return diagram_parser.parse(files)
        except diagram_parser.DiagramError as exc:
            raise DiagramRefused(
                # Named by the files that have them: a good file deployed beside is not one of them.
                f"{len(exc.problems)} problem(s) in "
                + ", ".join(sorted({p.file for p in exc.problems if p.file} or set(files))),
                {
                    "problems": [str(p) for p in exc.problems],
                    "problem_details": [p.to_dict() for p in exc.problems],
                    "notes": exc.notes,
                },
            ) from None

    def deploy(
        self, files: Mapping[str, bytes | str], actor: str = "designer", draft: bool = False
    ) -> list[dict[str, Any]]:
        """Validate and store ``files``; returns, per process, what became of it (``state``):

        - ``deployed``: a new version, now active;
        - ``draft``: a new version, stored only (``draft=True``);
        - ``activated``: a version stored before, made active again (a rollback by redeploy);
        - ``unchanged``: a version stored before that was already active (or, as a draft, is left
          as it was)."""
        definitions = self.validate(files)
        out = []
        with transaction(self.store.sessions) as s:
            for definition in definitions:
                row = s.scalar(
                    select(ProcessVersion).where(
                        ProcessVersion.process_id == definition.process_id, ProcessVersion.version == definition.version
                    )
                )
                new = row is None
                if row is None:
                    number = (
                        s.scalar(
                            select(func.max(ProcessVersion.number)).where(
                                ProcessVersion.process_id == definition.process_id
                            )
                        )
                        or 0
                    ) + 1
                    row = ProcessVersion(
                        process_id=definition.process_id,
                        name=definition.name,
                        version=definition.version,
                        spec=definition.spec,
                        files=definition.files,
                        deployed_at=clock.now(),
                        deployed_by=actor,
                        number=number,
                    )
                    s.add(row)
                    s.flush()
                active = before = self.active_row(s, definition.process_id)
                if draft:
                    state = "draft" if new else "unchanged"
                elif active is not None and active.id == row.id:
                    state = "unchanged"
                else:
                    self._activate(s, row, active, "deploy" if new else "redeploy", actor)
                    state = "deployed" if new else "activated"
                active = self.active_row(s, definition.process_id)
                out.append(
                    {
                        "process_id": definition.process_id,
                        "version": definition.version,
                        "number": row.number,
                        "id": row.id,
                        "new": new,
                        "state": state,
                        "active": active is not None and active.id == row.id,
                        "previous": self._ref(s, before) if state in ("deployed", "activated") else None,
                        "notes": definition.notes,
                    }
                )
        return out

    # -- the active version ---------------------------------------------------------------------------
    @staticmethod
    def active_row(s: Session, process_id: str) -> ProcessVersion | None:
        activation = s.scalar(
            select(Activation).where(Activation.process_id == process_id).order_by(Activation.id.desc()).limit(1)
        )
        return s.get(ProcessVersion, activation.version_id) if activation is not None else None

    def active_label(self, s: Session, process_id: str) -> tuple[int, str]:
        """(id, version) of the version new instances of ``process_id`` start on, in one statement:
        the version's row also holds its spec and files, which a start takes from the store's cache.
        NotFound as :meth:`active` says it."""
        row = s.execute(ACTIVE_LABEL, {"process_id": process_id}).one_or_none()
        if row is None:
            version = self.active(s, process_id)  # raises NotFound saying why
            return version.id, version.version
        return row.id, row.version

    def active(self, s: Session, process_id: str) -> ProcessVersion:
        """The version new instances of ``process_id`` start on."""
        version = self.active_row(s, process_id)
        if version is not None:
            return version
        if s.scalar(select(func.count()).select_from(ProcessVersion).where(ProcessVersion.process_id == process_id)):
            raise NotFound(
                f"process '{process_id}' has no active version: every version is a draft; "
                f"choose one with 'ztc versions activate {process_id} VERSION'"
            )
        raise NotFound(f"no process '{process_id}' is deployed")

    def _activate(self, s: Session, row: ProcessVersion, previous: ProcessVersion | None, how: str, actor: str) -> None:
        s.add(
            Activation(
                process_id=row.process_id,
                version_id=row.id,
                previous_version_id=previous.id if previous is not None else None,
                how=how,
                activated_at=clock.now(),
                activated_by=actor or "unknown",
            )
        )
        s.flush()

    def activate(self, process_id: str, ref: str, actor: str = "designer") -> dict[str, Any]:
        """Make a stored version the one new instances start on (a rollback, or a draft going live)."""
        with transaction(self.store.sessions) as s:
            row = self.resolve(s, ref, process_id)
            previous = self.active_row(s, process_id)
            if previous is not None and previous.id == row.id:
                state = "unchanged"
            else:
                self._activate(s, row, previous, "activate", actor)
                state = "activated"
            return {
                "process_id": process_id,
                "version": row.version,
                "number": row.number,
                "state": state,
                "previous": self._ref(s, previous),
                "activated_by": actor,
            }

    # -- reading -----------------------------------------------------------------------------------
    @staticmethod
    def _ref(s: Session, v: ProcessVersion | None) -> dict[str, Any] | None:
        return None if v is None else {"id": v.id, "version": v.version, "number": v.number}

    def versions(self, process_id: str | None = None) -> list[dict[str, Any]]:
        """Every version, oldest first, with its status: ``active`` (new instances start on it),
        ``draft`` (never active) or ``inactive`` (was active once), who activated the active one and
        when, and how many instances are live on it."""
        with transaction(self.store.sessions) as s:
            query = select(ProcessVersion).order_by(ProcessVersion.id)
            if process_id:
                query = query.where(ProcessVersion.process_id == process_id)
            rows = list(s.scalars(query))
            ever = set(s.scalars(select(Activation.version_id)).all())
            live = dict(
                s.execute(
                    select(Instance.version_id, func.count())
                    .where(Instance.status.not_in(ENDED))
                    .group_by(Instance.version_id)
                ).all()
            )
            actives, out = {}, []
            for v in rows:
                if v.process_id not in actives:
                    actives[v.process_id] = s.scalar(
                        select(Activation)
                        .where(Activation.process_id == v.process_id)
                        .order_by(Activation.id.desc())
                        .limit(1)
                    )
                activation = actives[v.process_id]
                is_active = activation is not None and activation.version_id == v.id
                out.append(
                    {
                        "id": v.id,
                        "process_id": v.process_id,
                        "name": v.name,
                        "version": v.version,
                        "number": v.number,
                        "status": "active" if is_active else ("inactive" if v.id in ever else "draft"),
                        "deployed_at": iso(v.deployed_at),
                        "deployed_by": v.deployed_by,
                        "activated_at": iso(activation.activated_at) if activation is not None and is_active else None,
                        "activated_by": activation.activated_by if activation is not None and is_active else None,
                        "live_instances": live.get(v.id, 0),
                    }
                )
            return out

    def activations(self, process_id: str) -> list[dict[str, Any]]:
        """The log of which version was active from when, oldest first."""
        with transaction(self.store.sessions) as s:
            rows = s.execute(
                select(Activation, ProcessVersion)
                .join(ProcessVersion, ProcessVersion.id == Activation.version_id)
                .where(Activation.process_id == process_id)
                .order_by(Activation.id)
            ).all()
            return [
                {
                    "version": v.version,
                    "number": v.number,
                    "how": a.how,
                    "at": iso(a.activated_at),
                    "by": a.activated_by,
                }
                for a, v in rows
            ]

    def resolve(self, s: Session, ref: str, process_id: str | None = None) -> ProcessVersion:
        """A version named as designers name it: ``PROCESS@REF`` or ``REF`` (with ``process_id``),
        where REF is its number (``3``), its content hash or a prefix of it (at least 4 characters),
        or ``active``."""
        ref = (ref or "").strip()
        if "@" in ref:
            named, ref = ref.split("@", 1)
            if process_id and named != process_id:
                raise InvalidInput(
                    f"version '{named}@{ref}' is not of process '{process_id}'", {"version": ["another process"]}
                )
            process_id = named
        if not ref:
            raise InvalidInput("name a version: its number, its hash or 'active'", {"version": ["empty"]})
        query = select(ProcessVersion)
        if process_id:
            query = query.where(ProcessVersion.process_id == process_id)
        if ref == "active":
            if not process_id:
                raise InvalidInput("'active' needs a process: PROCESS@active", {"version": ["no process"]})
            return self.active(s, process_id)
        if ref.isdigit() and len(ref) < 8:
            if not process_id:
                raise InvalidInput(f"version number {ref} needs a process: PROCESS@{ref}", {"version": ["no process"]})
            found = list(s.scalars(query.where(ProcessVersion.number == int(ref))))
        elif len(ref) >= 4:
            found = list(s.scalars(query.where(ProcessVersion.version.like(ref + "%"))))
        else:
            raise InvalidInput(
                f"'{ref}' is too short for a version hash (4 characters at least)", {"version": ["too short"]}
            )
        if not found:
            raise NotFound(
                f"no version '{ref}'" + (f" of process '{process_id}'" if process_id else "") + " (see 'ztc versions')"
            )
        if len(found) > 1:
            names = ", ".join(f"{v.process_id}@{v.number}" for v in found)
            raise InvalidInput(
                f"'{ref}' names several versions ({names}): say which, PROCESS@VERSION", {"version": ["ambiguous"]}
            )
        return found[0]

    def diagram(self, process_id: str, ref: str) -> dict[str, Any]:
        """The BPMN file a version of ``process_id`` was deployed from (the one holding the
        process), as stored: what a viewer draws. ``ref`` names the version as :meth:`resolve` does."""
        with transaction(self.store.sessions) as s:
            row = self.resolve(s, ref, process_id)
            name = diagram_diff.file_of(row.files, row.process_id)
            return {
                "process_id": row.process_id,
                "version": row.version,
                "number": row.number,
                "file": name,
                "xml": row.files[name],
            }

    def coverage(self, process_id: str, ref: str) -> dict[str, Any]:
        """What the designers' scenario file of the version's diagram (``<diagram>.scenarios.yaml``
        in the bpmn directory, as ``ztc test`` runs it) covers of that version: each scenario's
        outcome, the elements entered and the flows taken, and those missed. Run in a child
        process (seconds of CPU), kept per version and scenario file content."""
        with transaction(self.store.sessions) as s:
            row = self.resolve(s, ref, process_id)
            name = diagram_diff.file_of(row.files, row.process_id)
            files, version, number = dict(row.files), row.version, row.number
        head = {"process_id": process_id, "version": version, "number": number, "diagram": name}
        assert self.store.settings is not None  # only an engine made to validate diagrams has none
        path = coverage_run.scenario_file_for(self.store.settings.bpmn_dir, name)
        if path is None:
            return {**head, "scenario_file": None, "error": None, "results": []}
        key = (version, hashlib.sha256(path.read_bytes()).hexdigest())
        if key not in self._coverages:
            request = json.dumps(
                {"scenario_file": str(path), "files": files, "process_id": process_id, "diagram": name}
            ).encode()
            done = subprocess.run(
                [sys.executable, "-m", "shared.workflow.coverage_run"],
                input=request,
                capture_output=True,
                timeout=COVERAGE_TIMEOUT_SECONDS,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(
                    f"measuring the coverage of {process_id}@{number} failed: "
                    f"{done.stderr.decode(errors='replace')[-2000:]}"
                )
            self._coverages[key] = json.loads(done.stdout)
        return {**head, "scenario_file": path.name, **self._coverages[key]}

    def diff(self, ref_a: str, ref_b: str, process_id: str | None = None) -> dict[str, Any]:
        """Elements added, removed and changed from version A to version B of one process."""
        with transaction(self.store.sessions) as s:
            a = self.resolve(s, ref_a, process_id)
            b = self.resolve(s, ref_b, process_id or a.process_id)
            if a.process_id != b.process_id:
                raise InvalidInput(
                    f"{ref_a} and {ref_b} are versions of different processes", {"version": ["another process"]}
                )
            result = diagram_diff.diff(a.files, b.files, a.process_id)
            return {
                **result,
                "from": {"version": a.version, "number": a.number},
                "to": {"version": b.version, "number": b.number},
            }
