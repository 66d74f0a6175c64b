"""A faithful nRF91 modem simulator.

* :class:`Modem` - the pure state machine: ``Modem(options).handle(b"AT+CGMR")``.
* :class:`Board` / :class:`Link` - a board (modem + NVM file + scripted faults and URCs)
  and one connection's framing and echo.
* :class:`PtyServer`, :class:`TcpServer` - serve a board on a pty or a TCP port.
* ``sim://`` URLs for pyserial: importing this package registers the scheme
  (:func:`register_url_handler`, idempotent). The AT layer (:mod:`xsudo.at`) never imports
  the simulator; whatever assembles a program that may open ``sim://`` imports it (the CLI
  root, the library's ``connect()``).
* :class:`SimOptions` - every option, parsed from a URL query or CLI flags by
  :meth:`SimOptions.from_mapping`.
"""

from __future__ import annotations

import serial

from xsudo.sim.board import Board, Link
from xsudo.sim.modem import POFWARN_URC, RESET_BANNER, Modem
from xsudo.sim.options import FaultSpec, SimOptionError, SimOptions, UrcSpec
from xsudo.sim.profiles import DEFAULT_PROFILE, PROFILES, Profile
from xsudo.sim.registry import board_for, forget_boards, get_board, parse_sim_url
from xsudo.sim.servers import PtyServer, SimServer, TcpServer
from xsudo.sim.state import Nvm, StateFileError, load_nvm, save_nvm

URL_HANDLER_PACKAGE = "xsudo.sim.urlhandler"

__all__ = [
    "DEFAULT_PROFILE",
    "POFWARN_URC",
    "PROFILES",
    "RESET_BANNER",
    "URL_HANDLER_PACKAGE",
    "Board",
    "FaultSpec",
    "Link",
    "Modem",
    "Nvm",
    "Profile",
    "PtyServer",
    "SimOptionError",
    "SimOptions",
    "SimServer",
    "StateFileError",
    "TcpServer",
    "UrcSpec",
    "board_for",
    "forget_boards",
    "get_board",
    "load_nvm",
    "parse_sim_url",
    "register_url_handler",
    "save_nvm",
]


def register_url_handler() -> None:
    """Teach ``serial.serial_for_url`` the ``sim://`` scheme: add :data:`URL_HANDLER_PACKAGE`
    to ``serial.protocol_handler_packages`` once (idempotent; importing this package already
    did)."""
    if URL_HANDLER_PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(URL_HANDLER_PACKAGE)


register_url_handler()
