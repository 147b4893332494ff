"""E2E fixtures: every service as its own process, started by the launcher as ``make run`` does."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import requests

from shared.config import ROOT
from tests.support import make_settings, settings_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running(tmp_path, vhost, database_url_template):
    settings = make_settings(tmp_path, vhost, database_url_template, ZTC_GATEWAY_PORT=str(free_port()))
    env = dict(os.environ, **settings_env(settings))
    launcher = subprocess.Popen([sys.executable, "-m", "services.launcher"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{settings.gateway_port}"
    lines = []
    try:
        for line in launcher.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line or launcher.poll() is not None:
                break
        assert any("running:" in line for line in lines), "".join(lines[-30:])
        tokens = json.loads((settings.var_dir / "demo-tokens.json").read_text())
        yield base, tokens
    finally:
        launcher.send_signal(2)  # Ctrl-C
        out, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 0, out[-3000:]
        assert "stopped" in out


def call(base, token, method, path, body=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, base + path, json=body, headers=headers, timeout=30)


