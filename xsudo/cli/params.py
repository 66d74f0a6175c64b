"""Click parameter types and option choices, kept light for ``--help``.

The ranges come from :mod:`xsudo.limits` (constants only). The choices of ``--cmd-type``,
``--flow``, ``--shell-buffer``, ``--auth`` and ``--store`` are the library's values, copied
here so that defining a command's options (and printing its ``--help``) loads neither the
AT layer (pyserial), the policy (cryptography) nor the key store (keyring);
``tests/cli/test_startup_imports.py`` checks that each copy equals its source.
"""

from __future__ import annotations

import click

from xsudo.limits import MAX_SEC_TAG, XPMNG_SLOTS

SLOT = click.IntRange(XPMNG_SLOTS.start, XPMNG_SLOTS.stop - 1)
"""``--slot``: an ``%XPMNG`` slot number."""

SEC_TAG = click.IntRange(0, MAX_SEC_TAG)
"""``--tag``: a ``%CMNG`` sec_tag."""

CMD_TYPES = ("at", "shell", "auto")
""":data:`xsudo.at.cmdtype.CMD_TYPES`."""

CMD_TYPE_ENV = "XSUDO_CMD_TYPE"
""":data:`xsudo.at.cmdtype.CMD_TYPE_ENV`."""

FLOW_CONTROLS = ("none", "rtscts", "xonxoff", "dsrdtr")
""":data:`xsudo.at.transport.FLOW_CONTROLS`."""

DEFAULT_SHELL_BUFFER = 4096
""":data:`xsudo.at.shell.DEFAULT_SHELL_BUFFER`."""

AUTH_MODES = ("auto", "required", "never")
""":data:`xsudo.provision.policy.AUTH_MODES`."""

STORE_NAMES = ("keyring", "file", "pkcs11", "command")
""":data:`xsudo.keys.STORE_NAMES`."""

IMPORT_PASSPHRASE_ENV = "XSUDO_IMPORT_PASSPHRASE"
""":data:`xsudo.keys.IMPORT_PASSPHRASE_ENV`."""

KEY_COMMAND_TIMEOUT = 30.0
""":data:`xsudo.keys.command_store.DEFAULT_TIMEOUT`."""

CN_SOURCES = ("imei", "uuid")
""":data:`xsudo.provision.keygen.CN_SOURCES`."""

DEFAULT_FW_TYPES = "APP|MODEM"
""":data:`xsudo.provision.onboarding.DEFAULT_FW_TYPES`."""
