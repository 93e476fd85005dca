"""The alert sensors evaluated as the daemon would, one tick at a time, against a real instance."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.sensor_definition import SensorExecutionData

from warehouse_assets.defs.alerts import FAILURE_SENSOR, SUCCESS_SENSOR


class AlertSensors:
    """Both alert sensors with their cursors. Created before the runs of a test: the first tick
    of a run status sensor only sets its cursor to the latest run status event."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs = defs
        self.instance = instance
        self.cursors: dict[str, str | None] = {FAILURE_SENSOR: None, SUCCESS_SENSOR: None}
        self.tick()

    def tick(self) -> dict[str, SensorExecutionData]:
        """One tick of each sensor; the results by sensor name."""
        results = {}
        for name, cursor in self.cursors.items():
            context = dg.build_sensor_context(instance=self.instance, cursor=cursor)
            results[name] = self.defs.resolve_sensor_def(name).evaluate_tick(context)
            self.cursors[name] = results[name].cursor
        return results
