"""xsudo: authenticated credential provisioning for Nordic nRF91 cellular modems.

The public API, for scripts, test rigs and factory software::

    import xsudo

    key = xsudo.open_key("factory", home=HOME)
    with xsudo.connect("sim://?profile=locked", key=key, auth="required", home=HOME) as dev:
        dev.upload_key(slot=0)
        result = dev.write_credential(tag=16842753, type="ca-cert", content=pem_bytes)
        print(result.action, result.auth, result.sha256, result.audit_head)
    line = xsudo.sign(b"%CMNG=3,16842753,0", key)
    print(xsudo.verify(line.line, key.public_key()).valid)

Names are loaded on first use, so ``import xsudo`` stays light. Every error is an
:class:`XsudoError`; its ``exit_code`` is the CLI's (1 failed, 2 bad input, 3 device).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "connect": "xsudo.api",
    "open_key": "xsudo.api",
    "sign": "xsudo.api",
    "verify": "xsudo.api",
    "key_store": "xsudo.api",
    "Device": "xsudo.device",
    "Credential": "xsudo.device",
    "CredentialResult": "xsudo.provision.writer",
    "CredentialType": "xsudo.content.types",
    "AuthPolicy": "xsudo.provision.policy",
    "SignedLine": "xsudo.signing",
    "Signer": "xsudo.signing",
    "Verdict": "xsudo.diagnose",
    "XsudoError": "xsudo.errors",
    "BadInputError": "xsudo.errors",
    "OperationFailed": "xsudo.errors",
    "DeviceError": "xsudo.errors",
    "ModemError": "xsudo.errors",
    "CmeCode": "xsudo.errors",
}
_RENAMED = {"CredentialResult": "CredResult", "CredentialType": "CredType"}

__all__ = [
    "AuthPolicy",
    "BadInputError",
    "CmeCode",
    "Credential",
    "CredentialResult",
    "CredentialType",
    "Device",
    "DeviceError",
    "ModemError",
    "OperationFailed",
    "SignedLine",
    "Signer",
    "Verdict",
    "XsudoError",
    "__version__",
    "connect",
    "key_store",
    "open_key",
    "sign",
    "verify",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from xsudo.api import connect, key_store, open_key, sign, verify
    from xsudo.content.types import CredType as CredentialType
    from xsudo.device import Credential, Device
    from xsudo.diagnose import Verdict
    from xsudo.errors import (
        BadInputError,
        CmeCode,
        DeviceError,
        ModemError,
        OperationFailed,
        XsudoError,
    )
    from xsudo.provision.policy import AuthPolicy
    from xsudo.provision.writer import CredResult as CredentialResult
    from xsudo.signing import SignedLine, Signer


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xsudo' has no attribute {name!r}")
    value = getattr(import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
