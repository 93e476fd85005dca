"""The module Dagster loads (`dg dev`, `dagster code-server start -m warehouse_assets.definitions`).

The definitions are built when Dagster asks for them, from the environment as it is then, not
when this module is imported.
"""

import dagster as dg

from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.build import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_environment())
