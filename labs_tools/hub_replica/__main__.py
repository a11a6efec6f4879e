"""``python -m labs_tools.hub_replica``: see :mod:`labs_tools.hub_replica.build`."""

from labs_tools.hub_replica.build import main

main()
