"""Hub-shaped replicas of the ``full`` profile's repositories, for running it without the Hub.

``python -m labs_tools.hub_replica --out DIR`` writes ``DIR/<repo id>/`` for every model
and dataset the full profile names: the real repositories' file names, config values,
label maps, special tokens and data layouts, with random weights and generated text.
:func:`build_replica` does the same from Python; :func:`build_repo` writes one repository.
"""

from labs_tools.hub_replica.build import build_replica, build_repo, profile_repos
from labs_tools.hub_replica.recipes import RECIPES, recipe_for

__all__ = ["RECIPES", "build_replica", "build_repo", "profile_repos", "recipe_for"]
