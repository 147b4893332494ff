"""The coverage of a deployed version by the designers' scenario file of its diagram
(``bpmn/<diagram>.scenarios.yaml``, as ``ztc test`` runs it), computed in a process of its own.

Running a diagram's scenarios takes seconds of CPU (the proposal's: about seven): the engine asks
this module in a child process (``python -m shared.workflow.coverage_run``, the request as JSON on
stdin, the answer as JSON on stdout) so that its event loop keeps serving while they run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from shared import yamlio

from . import coverage as cov_module
from . import scenarios


def scenario_file_for(bpmn_dir: Path, diagram: str) -> Path | None:
    """The scenario file in ``bpmn_dir`` that tests the diagram file named ``diagram`` (its
    ``diagram:`` key, else its own stem), or None."""
    for path in sorted(Path(bpmn_dir).glob(f"*{scenarios.SUFFIX}")):
        try:
            raw = yamlio.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        named = raw.get("diagram") if isinstance(raw, dict) else None
        if (named or path.name[: -len(scenarios.SUFFIX)] + ".bpmn") == diagram:
            return path
    return None


def measure(
    scenario_path: str | os.PathLike[str], files: Mapping[str, bytes | str], process_id: str, diagram: str
) -> dict[str, Any]:
    """Run the scenario file against ``files`` (a version's): each scenario's outcome, and which
    elements were entered and which flows taken, or ``error`` when the file cannot run on them."""
    try:
        suite = scenarios.load(scenario_path, files=files)
    except scenarios.ScenarioFileError as exc:
        return {"error": str(exc), "results": []}
    tested = suite.definition.process_id
    if tested != process_id:
        return {"error": f"{Path(scenario_path).name} tests process '{tested}', not '{process_id}'", "results": []}
    content = files[diagram]
    cov = cov_module.for_diagram(diagram, content if isinstance(content, bytes) else content.encode(), process_id)
    results = scenarios.run_suite(suite)
    for r in results:
        cov.add(r.reached, r.flows)
    return {
        "error": None,
        "results": [r.to_dict() for r in results],
        **cov.to_dict(),
        "reached": sorted(cov.reached),
        "taken": sorted(cov.taken),
    }


def main() -> None:
    request = json.load(sys.stdin)
    json.dump(
        measure(request["scenario_file"], request["files"], request["process_id"], request["diagram"]),
        sys.stdout,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
