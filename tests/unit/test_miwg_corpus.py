"""Every file of the BPMN MIWG test corpus either deploys or is refused with usable problems."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from shared.workflow.parser import DiagramError, parse

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "bpmn-corpus" / "miwg"

if not CORPUS.is_dir():
    pytest.skip(f"the MIWG BPMN corpus is not present at {CORPUS}", allow_module_level=True)

FILES = sorted(CORPUS.rglob("*.bpmn"))
# Problems about the file as a whole rather than one of its elements.
FILE_LEVEL = ("not well-formed XML", "no executable process")


def _name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def _parse(path: Path):
    """``(definitions, problems)`` for one corpus file; any exception but DiagramError escapes."""
    try:
        return parse({_name(path): path.read_bytes()}), []
    except DiagramError as exc:
        return [], exc.problems


def test_corpus_holds_bpmn_files():
    assert FILES, f"no .bpmn files under {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_corpus_file_deploys_or_is_refused_with_problems_naming_file_and_element(path):
    name = _name(path)
    definitions, problems = _parse(path)
    assert definitions or problems
    if definitions:
        assert all(d.process_id and len(d.version) == 16 for d in definitions)
        return
    ids = {el.get("id"): el for el in etree.parse(str(path)).iter() if isinstance(el.tag, str) and el.get("id")}
    for problem in problems:
        assert problem.message.strip(), problem
        assert problem.file == name, problem
        if problem.message.startswith(FILE_LEVEL):
            continue
        # every other problem comes from an element, which the designer must be able to find
        assert problem.element_id, problem
        assert problem.element_id in ids, problem
        if problem.element_type:
            local = problem.element_type.split(":")[-1]
            assert etree.QName(ids[problem.element_id]).localname == local, problem


def test_some_corpus_files_deploy():
    deployed = {_name(path) for path in FILES if _parse(path)[0]}
    assert deployed
