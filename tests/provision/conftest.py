"""The provisioning library's tests (policy, writer, fleet) against the in-process simulator
and scripted hostile devices; the fixtures for end-to-end CLI runs live in
:mod:`tests.support.boards`."""

from tests.support.boards import board, xsudo  # noqa: F401  (fixtures)
