"""The workflow runtime: SpiffWorkflow, parsed and run the Zhitongche way.

- :mod:`.specs` — the one override through which service tasks leave the engine as jobs;
- :mod:`.parser` — parsing diagrams into deployable specs, refusing them with every problem at once;
- :mod:`.checks` — the deploy checks (:mod:`.expressions`: FEEL/JUEL/XPath and timers; :mod:`.problems`:
  what a problem says and where); :mod:`.lint` — the style findings of ``ztc lint``;
- :mod:`.runtime` — start, step, save and restore instances; deliver job results, user task
  completions, messages and timers. No database and no broker here: the engine service adds those.
"""
