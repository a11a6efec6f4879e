"""The notebooks' Colab set-up: one repository address, ranges not pins, Drive on request."""

import json
import re
import sys
import tomllib
from pathlib import Path

from labs_common import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("lab*.ipynb"))


def first_cell(path):
    return "".join(json.loads(path.read_text())["cells"][1]["source"])


def test_every_notebook_clones_the_address_pyproject_names():
    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    assert len(NOTEBOOKS) == 4
    for notebook in NOTEBOOKS:
        cell = first_cell(notebook)
        assert re.findall(r"https://[^\s\"']+", cell) == [url], notebook.name


def test_the_install_uses_the_package_ranges_not_the_exact_pins():
    command = colab.install_command(Path("/content/llm-labs"))
    assert command[-2:] == ["-e", "/content/llm-labs"]
    assert "-r" not in command and "requirements.txt" not in " ".join(command)
    for notebook in NOTEBOOKS:
        assert "requirements.txt" not in first_cell(notebook), notebook.name


def test_setup_says_to_restart_when_an_imported_library_changed(monkeypatch, tmp_path, capsys):
    versions = {"numpy": "2.0.0"}
    monkeypatch.setitem(sys.modules, "numpy", sys.modules.get("numpy") or object())
    monkeypatch.setattr(colab.metadata, "version", lambda name: versions.get(name, "1.0"))

    def pip(command, check):
        versions["numpy"] = "2.4.6"

    messages = colab.setup(tmp_path, run=pip)
    assert any("Restart the runtime" in m and "numpy 2.0.0 -> 2.4.6" in m for m in messages)


def test_setup_does_not_ask_for_a_restart_when_nothing_loaded_changed(monkeypatch, tmp_path):
    monkeypatch.setattr(colab.metadata, "version", lambda name: "1.0")
    messages = colab.setup(tmp_path, run=lambda command, check: None)
    assert not any("Restart" in m for m in messages)


def test_drive_is_mounted_only_when_asked_and_becomes_the_build_folder(monkeypatch, tmp_path):
    mounted = []
    monkeypatch.setattr(colab, "DRIVE_BUILD_DIR", str(tmp_path / "MyDrive" / "build"))
    monkeypatch.setenv("LABS_BUILD_DIR", str(tmp_path / "before"))
    colab.setup(tmp_path, run=lambda command, check: None, mount=mounted.append)
    assert mounted == []
    colab.setup(tmp_path, use_google_drive=True, run=lambda command, check: None,
                mount=mounted.append)
    assert mounted == [colab.DRIVE_MOUNT]
    from labs_common.paths import build_dir

    assert build_dir() == tmp_path / "MyDrive" / "build"
