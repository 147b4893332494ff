"""The designers' commands of ``ztc``: ``test`` (scenario files beside diagrams, with coverage) and
``templates`` (element templates for Camunda Modeler, from the job contracts).

Neither needs a database, a broker or a running service: both work on a fresh clone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def register(main, helpers):
    _settings = helpers["settings"]

    @main.command(
        "test",
        help="Run the designers' scenario files (DIAGRAM.scenarios.yaml beside each "
        "diagram): given start data; when user tasks are completed, jobs answer with "
        "results or BPMN errors, messages arrive and time passes; then where the "
        "instance waits, its variables, whether it completed. Runs on the engine's "
        "runtime alone (no database, broker or service) with a clock that skips. "
        "Reports each scenario and the coverage of elements and flows, and writes "
        "the diagram with covered paths marked: DIAGRAM.coverage.bpmn (open it in the "
        "modeler: green covered, red not) and DIAGRAM.coverage.svg (a browser). "
        "PATHS: diagrams, scenario files or directories (default: bpmn/). Exits 1 if "
        "a scenario fails or coverage is below --min-coverage.",
    )
    @click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
    @click.option("-k", "only", help="Only scenarios whose name contains this text.")
    @click.option(
        "--report",
        "report_dir",
        type=click.Path(path_type=Path),
        help="Where the coverage drawings go (default: var/coverage).",
    )
    @click.option("--no-report", is_flag=True, help="Write no coverage drawings.")
    @click.option(
        "--min-coverage",
        type=float,
        default=0.0,
        show_default=True,
        help="Fail when element or flow coverage of a diagram is below this percentage.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print results and coverage as JSON.")
    def test(paths, only, report_dir, no_report, min_coverage, as_json):
        from shared.workflow import coverage as cov_module
        from shared.workflow import scenarios

        settings = _settings()
        try:
            files = scenarios.scenario_files(paths or [settings.bpmn_dir])
        except scenarios.ScenarioFileError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        if not files:
            click.echo("error: no scenario files (DIAGRAM.scenarios.yaml) found", err=True)
            sys.exit(2)
        report_dir = report_dir or settings.var_dir / "coverage"
        out, failed, low = [], 0, []
        for path in files:
            try:
                suite = scenarios.load(path)
            except scenarios.ScenarioFileError as exc:
                failed += 1
                out.append({"file": str(path), "error": str(exc)})
                if not as_json:
                    click.echo(f"{path}: ERROR {exc}")
                continue
            content = suite.diagram_path.read_bytes()
            cov = cov_module.for_diagram(suite.name, content, suite.definition.process_id)
            results = scenarios.run_suite(suite, only)
            for r in results:
                cov.add(r.reached, r.flows)
            failed += sum(not r.passed for r in results)
            written = []
            if not no_report:
                report_dir.mkdir(parents=True, exist_ok=True)
                stem = suite.diagram_path.stem
                bpmn_out, svg_out = report_dir / f"{stem}.coverage.bpmn", report_dir / f"{stem}.coverage.svg"
                bpmn_out.write_bytes(cov_module.annotated_bpmn(content, cov))
                svg_out.write_text(cov_module.svg(content, cov), encoding="utf-8")
                written = [str(bpmn_out), str(svg_out)]
            elements_pct, flows_pct = cov.percent()
            if min(elements_pct, flows_pct) < min_coverage:
                low.append(suite.name)
            out.append(
                {
                    "file": str(path),
                    "diagram": str(suite.diagram_path),
                    "results": [r.to_dict() for r in results],
                    "coverage": cov.to_dict(),
                    "reports": written,
                }
            )
            if as_json:
                continue
            click.echo(f"{suite.diagram_path}: {len(results)} scenario(s)")
            for r in results:
                click.echo(
                    f"  {'PASS' if r.passed else 'FAIL'} {r.scenario}" + ("" if r.passed else f"\n       {r.message}")
                )
            # With -k only some scenarios ran: what they left uncovered says little, so only the figures.
            for line in cov.lines()[:1] if only else cov.lines():
                click.echo(f"  {line}")
            for path_written in written:
                click.echo(f"  coverage drawn in {path_written}")
        passed = sum(r["passed"] for o in out for r in o.get("results", []))
        if as_json:
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            click.echo(f"{passed} passed, {failed} failed")
            for name in low:
                click.echo(f"coverage of {name} is below {min_coverage:g}%")
        sys.exit(1 if failed or low else 0)

    @main.command(
        help="Write element templates for Camunda Modeler 5 (Camunda 8 templates, one per job "
        "operation of shared/contracts/jobs, with its parameters as inputs) to DIR (default: "
        "var/element-templates). A service task a designer applies a template to is written "
        "with zeebe:taskDefinition and zeebe:input, which 'ztc deploy' takes like "
        "spiffworkflow:serviceTaskOperator. Copy the file into Camunda Modeler's "
        "resources/element-templates folder (see docs/designing.md)."
    )
    @click.argument("directory", required=False, type=click.Path(path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print the templates to standard output instead.")
    def templates(directory, as_json):
        from shared.workflow.templates import element_templates

        generated = element_templates()
        if as_json:
            click.echo(json.dumps(generated, ensure_ascii=False, indent=2))
            return
        directory = directory or _settings().var_dir / "element-templates"
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "zhitongche-jobs.json"
        target.write_text(json.dumps(generated, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        click.echo(f"{len(generated)} element templates (one per job operation) written to {target}")
