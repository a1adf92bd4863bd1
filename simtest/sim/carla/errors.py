"""Failures of the CARLA server, told apart so the runner can react.

Configuration mistakes are :class:`ValueError`. Everything that goes wrong with
a *running* server is a :class:`CarlaServerError` (a ``RuntimeError``): the cell
fails cleanly and the runner's retry policy decides what happens next.
"""

from __future__ import annotations


class CarlaServerError(RuntimeError):
    """The CARLA server misbehaved; the episode cannot continue."""


class CarlaConnectionError(CarlaServerError, ConnectionError):
    """No CARLA server answers at the configured host and port."""


class CarlaTimeoutError(CarlaServerError, TimeoutError):
    """An RPC call or a sensor did not answer within its time limit."""


class CarlaServerCrashed(CarlaServerError):
    """The server process exited, or the connection to it broke."""


class CarlaMemoryExceeded(CarlaServerError):
    """The server's resident memory grew beyond the configured limit."""


def classify_rpc_error(exc: BaseException, *, where: str) -> CarlaServerError:
    """Turn an exception raised by the ``carla`` client into one of ours.

    The client library reports every failure as a ``RuntimeError`` whose message
    says what happened ("time-out of 10000ms while waiting for the simulator",
    "rpc::rpc_error during call", "connection refused" ...).
    """
    if isinstance(exc, CarlaServerError):
        return exc
    text = str(exc)
    low = text.lower()
    if "time-out" in low or "timeout" in low or "timed out" in low:
        return CarlaTimeoutError(f"{where}: the CARLA server did not answer in time ({text})")
    return CarlaServerCrashed(f"{where}: lost the CARLA server ({type(exc).__name__}: {text})")
