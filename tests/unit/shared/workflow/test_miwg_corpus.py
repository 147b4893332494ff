"""Every file of the BPMN MIWG test corpus either deploys or is refused with usable problems."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from shared.workflow.parser import DiagramError, parse

CORPUS = Path(__file__).resolve().parents[5] / "shared" / "bpmn-corpus" / "miwg"

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
    lines = path.read_bytes().count(b"\n") + 1
    for problem in problems:
        assert problem.message.strip(), problem
        assert problem.file == name, problem
        # every refusal says where: a line of the file, and what to do about it
        assert isinstance(problem.line, int) and 1 <= problem.line <= lines, problem
        assert problem.hint.strip(), problem
        # SpiffWorkflow's misleading and cut-off messages never reach the designer
        assert "perhaps a form" not in problem.message and not problem.message.endswith("of type"), problem
        assert "<Element " not in problem.message, problem
        if problem.message.startswith(FILE_LEVEL):
            continue
        # every other problem comes from an element, which the designer must be able to find
        assert problem.element_id, problem
        assert problem.element_id in ids, problem
        if problem.element_type:
            local = problem.element_type.split(":")[-1]
            assert etree.QName(ids[problem.element_id]).localname == local, problem


def test_conditions_in_other_languages_are_answered_with_the_python_to_write():
    """The corpus carries conditions in JUEL (C.1.0), XPath (C.1.1) and FEEL (C.8, C.9): each is
    named as such, with the Python to write, never as a bare syntax error. (One, in C.3.0, is in no
    language but has a name with a space: it is answered with the Python name.)"""
    conditions = [
        p
        for path in FILES
        for p in _parse(path)[1]
        if p.element_type == "bpmn:sequenceFlow" and p.message.startswith("condition ")
    ]
    assert conditions
    languages = set()
    for problem in conditions:
        assert "invalid syntax" not in problem.message, problem
        assert problem.code in ("expression-language", "expression-names"), problem
        languages.update(lang for lang in ("FEEL", "JUEL", "XPath") if lang in problem.message)
        assert problem.hint.startswith("write it"), problem
    assert languages == {"FEEL", "JUEL", "XPath"}
    c_1_0 = {p.element_id: p for p in _parse(CORPUS / "Reference" / "C.1.0.bpmn")[1]}
    assert c_1_0["invoiceNotApproved"].hint == "write it in Python: not approved"
    assert c_1_0["invoiceNotApproved"].label == "no (Invoice approved? → Rechnung klären)"


def test_some_corpus_files_deploy():
    deployed = {_name(path) for path in FILES if _parse(path)[0]}
    assert deployed
