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


LOST_SERVER_HINTS = ("rpc", "connection", "socket", "broken pipe", "closed", "connect", "eof")
"""Words of the client's messages when the server went away (as opposed to refusing a request)."""


def classify_rpc_error(exc: BaseException, *, where: str) -> CarlaServerError:
    """Turn an exception raised by the ``carla`` client into one of ours.

    The client library reports every failure as a ``RuntimeError`` whose message
    says what happened: "time-out of 10000ms while waiting for the simulator"
    (:class:`CarlaTimeoutError`), "rpc::rpc_error during call ..." or a broken
    connection (:class:`CarlaServerCrashed`), or a refused request such as
    "Spawn failed because of collision at spawn position" (the server is fine:
    a plain :class:`CarlaServerError`).
    """
    if isinstance(exc, CarlaServerError):
        return exc
    text = str(exc)
    low = text.lower()
    if "time-out" in low or "timeout" in low or "timed out" in low:
        return CarlaTimeoutError(f"{where}: the CARLA server did not answer in time ({text})")
    if any(h in low for h in LOST_SERVER_HINTS):
        return CarlaServerCrashed(f"{where}: lost the CARLA server ({type(exc).__name__}: {text})")
    return CarlaServerError(f"{where}: the CARLA server refused the request ({text})")


def server_is_unusable(err: CarlaServerError) -> bool:
    """True for failures after which the server must not serve another episode."""
    return isinstance(err, (CarlaServerCrashed, CarlaTimeoutError, CarlaMemoryExceeded))
