"""Fixtures for the AT layer: a fake device over TCP or a pty, and a channel to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pytest

from xsudo.sim import register_url_handler

from .fakedevice import FakeDevice, Step

# Some tests here open sim:// ports. The AT layer never loads the simulator, so this test
# session registers it as an application would (test_layers.py checks the layer itself in
# fresh interpreters).
register_url_handler()

DeviceFactory = Callable[..., FakeDevice]


@pytest.fixture(params=["tcp", "pty"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each fault test runs over a TCP socket (socket://) and over a real pty."""
    return str(request.param)


@pytest.fixture
def make_device(transport: str) -> Iterator[DeviceFactory]:
    devices: list[FakeDevice] = []

    def factory(script: Iterable[Step] = (), **options: object) -> FakeDevice:
        device = FakeDevice(script, transport=transport, **options)  # type: ignore[arg-type]
        device.__enter__()
        devices.append(device)
        return device

    yield factory
    for device in devices:
        device.stop()
