"""The headless recipes' command line.

The recipes themselves run in ``make distributed`` (part of ``make test``), LoRA and then
PPO from its adapter on two processes; tests/test_rl_processes.py checks that a step there
is the step of one process. A run of both here would add half a minute to every test run.
"""

from __future__ import annotations

import subprocess
import sys

from labs_tools import recipes


def test_help_names_every_recipe():
    done = subprocess.run([sys.executable, "-m", "labs_tools.recipes", "--help"],
                          capture_output=True, text=True, check=True)
    for name, text in recipes.RECIPES.items():
        assert f"  {name}" in done.stdout
        assert text.split(":")[0] in done.stdout.replace("\n", " ")
