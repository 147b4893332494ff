"""Safe YAML parsing with libyaml's parser where PyYAML was built with it.

PyYAML's own parser is pure Python: the proposal diagram's scenario file (about 1,900 lines) took
half a second to read, once per scenario in the diagram tests and in ``ztc test``, and every
rulebook file is read the same way. libyaml's parser (``yaml.CSafeLoader``) reads the same text
about ten times faster and builds the same values: only the parser differs, the safe constructor
and the resolver are PyYAML's own. Text that does not parse is read again by PyYAML's own parser,
whose error quotes the offending line under the line and column (libyaml's names only the line and
column): a designer or an operator reads that message.
"""

from __future__ import annotations

from typing import Any

import yaml

_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _dates_as_text(base: Any) -> Any:
    """``base`` resolving no timestamps: a date stays text, for a schema to check and name the field
    (PyYAML itself raises a bare ValueError for a date like 2027-13-01)."""
    resolvers = {
        first: [(tag, regexp) for tag, regexp in found if tag != TIMESTAMP]
        for first, found in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return type(f"{base.__name__}DatesAsText", (base,), {"yaml_implicit_resolvers": resolvers})


_LOADERS = {False: (_FAST, yaml.SafeLoader), True: (_dates_as_text(_FAST), _dates_as_text(yaml.SafeLoader))}
SafeLoader = _FAST


def safe_load(text: str | bytes, *, dates_as_text: bool = False) -> Any:
    """``yaml.safe_load`` on libyaml's parser when there is one (see the module docstring);
    ``dates_as_text`` leaves a date as the text it is written as."""
    fast, own = _LOADERS[dates_as_text]
    try:
        return yaml.load(text, Loader=fast)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        if fast is own:
            raise
        return yaml.load(text, Loader=own)  # noqa: S506 - raises again, its message quoting the line
