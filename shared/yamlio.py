"""Safe YAML parsing with libyaml's parser where PyYAML was built with it.

PyYAML's own parser is pure Python: the proposal diagram's scenario file (about 1,900 lines) took
half a second to read, once per scenario in the diagram tests and in ``ztc test``. libyaml's parser
(``yaml.CSafeLoader``) reads the same text about ten times faster and builds the same values: only
the parser differs, the safe constructor and the resolver are PyYAML's own. Text that does not
parse is read again by PyYAML's own parser, whose error quotes the offending line under the line
and column (libyaml's names only the line and column): a designer reads that message.
"""

from __future__ import annotations

from typing import Any

import yaml

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # a PyYAML built without libyaml: its own parser, slower, same values
    from yaml import SafeLoader  # type: ignore[assignment]


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load`` on libyaml's parser when there is one (see the module docstring)."""
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        if SafeLoader is yaml.SafeLoader:
            raise
        return yaml.safe_load(text)  # raises again, its message quoting the line
