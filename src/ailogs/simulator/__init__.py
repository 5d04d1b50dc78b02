"""Realistic, deterministic traffic for demos and tests (`ailogs simulate`).

`generator` is pure (seed + start time in, events out); `sinks` delivers them
to Loki's push API or to a JSON-lines file.
"""

from ailogs.simulator.generator import IncidentPlan, SimEvent, SimulationConfig, generate
from ailogs.simulator.topology import DEFAULT_TOPOLOGY, Topology

__all__ = [
    "DEFAULT_TOPOLOGY",
    "IncidentPlan",
    "SimEvent",
    "SimulationConfig",
    "Topology",
    "generate",
]
