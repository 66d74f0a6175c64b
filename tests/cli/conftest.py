"""The CLI adapters' tests: the ``xsudo`` command run in-process against simulated boards on
real ptys (fixtures in :mod:`tests.support.boards`)."""

from tests.support.boards import board, observed, xsudo  # noqa: F401  (fixtures)
