"""A Microsoft Graph simulator for integration tests and benchmarks (docs/graph-simulator.md)."""

from tests.graphsim.faults import Fault, FaultKind
from tests.graphsim.notifications import DeliveryResult
from tests.graphsim.request_log import LoggedRequest
from tests.graphsim.simulator import GraphSimulator

__all__ = ["DeliveryResult", "Fault", "FaultKind", "GraphSimulator", "LoggedRequest"]
