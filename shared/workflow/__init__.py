"""The workflow runtime: SpiffWorkflow, parsed and run the Zhitongche way.

- :mod:`.specs` — the one override through which service tasks leave the engine as jobs;
- :mod:`.parser` — parsing and validating diagrams into deployable specs, with clear problems;
- :mod:`.runtime` — start, step, save and restore instances; deliver job results, user task
  completions, messages and timers. No database and no broker here: the engine service adds those.
"""
