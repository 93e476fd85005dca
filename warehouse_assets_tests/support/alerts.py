"""The alert sensors evaluated as the daemon would, one tick at a time, against a real instance."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
from dagster._core.definitions.sensor_definition import SensorExecutionData

from warehouse_assets.defs.alerts import FAILURE_SENSOR, SUCCESS_SENSOR


class AlertSensors:
    """Both alert sensors with their cursors. Created before the runs of a test: the first tick
    of a run status sensor only sets its cursor to the latest run status event.

    The sensors are evaluated in their repository, as the daemon evaluates them, so a run with no
    code location (one `warehouse load` or a test executed in its own process) is matched only
    because the sensors look at every run of the instance."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs = defs
        self.instance = instance
        self.cursors: dict[str, str | None] = {FAILURE_SENSOR: None, SUCCESS_SENSOR: None}
        self.tick()

    def tick(self) -> dict[str, SensorExecutionData]:
        """One tick of each sensor; the results by sensor name."""
        results = {}
        for name, cursor in self.cursors.items():
            context = dg.build_sensor_context(
                instance=self.instance, cursor=cursor, repository_name=SINGLETON_REPOSITORY_NAME, definitions=self.defs
            )
            results[name] = self.defs.resolve_sensor_def(name).evaluate_tick(context)
            self.cursors[name] = results[name].cursor
        return results
