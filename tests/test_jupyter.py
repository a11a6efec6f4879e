"""Opening the labs locally: the set-up installs JupyterLab, and its server lists the notebooks.

The server runs on 127.0.0.1 on a free port with a random token, for at most a minute.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, deadline: float):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_jupyterlab_serves_the_labs_with_the_project_kernel(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--ServerApp.port_retries=0",
         "--allow-root"],  # CI runs as root
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
             "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        listing = get_json(f"{base}/api/contents/notebooks?token={token}", deadline)
        names = {item["name"] for item in listing["content"]}
        assert {"lab1_prompt_engineering.ipynb", "lab2_fine_tuning.ipynb",
                "lab3_ppo_detox.ipynb", "lab4_preference_optimization.ipynb"} <= names
        kernels = get_json(f"{base}/api/kernelspecs?token={token}", deadline)
        assert "python3" in kernels["kernelspecs"]  # the name the notebooks ask for
    finally:
        server.terminate()
        server.wait(timeout=30)
