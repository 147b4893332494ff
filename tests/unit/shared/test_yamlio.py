"""``shared.yamlio``: libyaml's parser gives the values PyYAML's own gives, and a bad file's error
still quotes the offending line."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from shared import yamlio
from shared.config import ROOT

YAML_FILES = sorted(
    line
    for line in subprocess.run(
        ["git", "ls-files", "*.yaml", "*.yml"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    if "/k8s/" not in line  # several documents a file: kubectl's, not read by the product
)


def test_libyaml_is_the_parser_here():
    # the speed is the point of the module; a PyYAML built without libyaml would still be correct
    assert yamlio.SafeLoader is yaml.CSafeLoader


@pytest.mark.parametrize("name", YAML_FILES)
def test_every_yaml_file_of_the_project_reads_as_pyyamls_own_parser_reads_it(name):
    text = (ROOT / name).read_text(encoding="utf-8")
    assert yamlio.safe_load(text) == yaml.safe_load(text)
    assert yamlio.safe_load(text, dates_as_text=True) == yaml.load(text, Loader=yamlio._LOADERS[True][1])


def test_dates_as_text_leaves_every_date_as_written_for_the_schema_to_check():
    text = "year: 2027\nholidays:\n  - [2027-01-01, 元旦]\n  - [2027-13-01, 不存在]\nat: 2027-01-01T08:00:00\n"
    assert yamlio.safe_load(text, dates_as_text=True) == {
        "year": 2027,
        "holidays": [["2027-01-01", "元旦"], ["2027-13-01", "不存在"]],
        "at": "2027-01-01T08:00:00",
    }
    assert str(yamlio.safe_load("d: 2027-01-01")["d"]) == "2027-01-01"  # a date without the option


def test_a_file_that_does_not_parse_is_named_at_its_line_with_the_line_quoted():
    with pytest.raises(yaml.YAMLError) as raised:
        yamlio.safe_load("scenarios:\n  - name: x\n    steps: [a, b\n  bad: : :\n")
    message = str(raised.value)
    assert "line 3, column 12" in message
    assert "steps: [a, b\n" in message and "^" in message
