"""``python -m labs_common.hub_replica``: see :mod:`labs_common.hub_replica.build`."""

from labs_common.hub_replica.build import main

main()
