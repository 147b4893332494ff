"""bench/sampling.py: py-spy's collapsed stacks read into where the CPU was, and a real py-spy
attached to a running process by its pid."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.sampling import Sampler, summarize

RAW = """\
<module> (services/runner.py:1);mutate (services/engine/store.py:244);dumps (json/encoder.py:205) 6
<module> (services/runner.py:1);mutate (services/engine/store.py:244);execute (sqlalchemy/engine/base.py:1450) 3
<module> (services/runner.py:1);do_poll (eventlet/hubs/epolls.py:30) 1
"""


def test_samples_are_grouped_by_the_innermost_frame_and_our_code_counts_what_it_called(tmp_path):
    raw = tmp_path / "engine.raw"
    raw.write_text(RAW)
    summary = summarize(raw, rate=100)
    assert summary["samples"] == 10 and summary["sampled_seconds"] == 0.1
    assert summary["by_group"] == {"json": 6, "SQLAlchemy": 3, "eventlet": 1}
    assert summary["top_own"][0] == ("dumps (json/encoder.py:205)", 6)
    inclusive = dict(summary["top_ours_inclusive"])
    assert inclusive["mutate (services/engine/store.py:244)"] == 9
    assert inclusive["<module> (services/runner.py:1)"] == 10
    assert not any(frame.startswith("dumps") for frame in inclusive)  # a library's frame is not ours


BUSY = """
import json, time
def spin():
    end = time.time() + 20
    while time.time() < end:
        json.dumps({"a": list(range(200))})
spin()
"""


def test_a_running_process_is_sampled_by_its_pid(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(0.3)
        sampler = Sampler({"busy": proc.pid}, tmp_path, rate=100).start()
        time.sleep(1.5)
        summary = sampler.stop()["busy"]
    finally:
        proc.kill()
        proc.wait()
    assert isinstance(summary, dict), summary
    assert summary["samples"] > 20
    assert "spin (" in (tmp_path / "busy.raw").read_text()  # the busy function is on the sampled stacks
    assert summary["by_group"].get("json", 0) > 0
