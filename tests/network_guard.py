"""Tests reach loopback only: no name lookup and no connection leaves this machine.

A name lookup the system resolver answers over the network (a query to the resolver in
/etc/resolv.conf) already leaves the machine, so ``socket.getaddrinfo`` answers numeric hosts and
``localhost`` only; any other name fails as an unknown name would (a test that needs a name gives
its own answers with monkeypatch). A Python socket connecting anywhere but loopback is stopped
before it connects, and the test fails at teardown even if the code under test swallowed the
error, so code that would reach out (an outbound policy that failed to refuse, say) cannot pass.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths and the like
        return True
    host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
    if host.lower().rstrip(".") in LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


@pytest.fixture(autouse=True)
def no_network_off_this_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Yields the list of refused connection attempts (empty when the test behaved)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    refused: list[Any] = []

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or str(name).lower().rstrip(".") in LOCAL_NAMES:
            return real_getaddrinfo(host, port, family, type, proto, flags)
        try:
            return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(
                socket.EAI_NONAME, f"tests resolve no names off this machine ({name})"
            ) from None

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_local(address):
            refused.append(address)
            raise ConnectionRefusedError(f"tests connect to loopback only, not {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(address):
            refused.append(address)
            raise ConnectionRefusedError(f"tests connect to loopback only, not {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield refused
    assert not refused, f"the test tried to connect off this machine: {refused}"
