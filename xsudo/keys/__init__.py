"""Named EC P-256 keys: public metadata on disk, secrets in the OS keychain or encrypted files.

Public API (other layers code against these names)::

    KeyStore(home, passphrase=None)     generate / import_key / list / get / public_key /
                                        signer / delete / default_store
    KeyRecord                           public facts about one key (to_json: no secrets)
    PassphraseSource                    passphrase from a file, the environment, or a tty
    KeyBackend                          the Protocol a store backend implements
    Pkcs11KeyBackend, Pkcs11Config      store ``pkcs11``: key pairs inside a PKCS#11 token
    CommandKeyBackend, SignerCommand    store ``command``: an external signer program
"""

from xsudo.crypto import is_encrypted_private_key
from xsudo.keys.backend import KeyBackend, LocalKeyBackend
from xsudo.keys.command_store import (
    CommandKeyBackend,
    CommandSigner,
    SignerCommand,
    SignerCommandError,
)
from xsudo.keys.file_store import DEFAULT_KDF_ROUNDS, FileKeyBackend
from xsudo.keys.keyring_store import KeyringKeyBackend, assess_backend
from xsudo.keys.local_signer import LocalSigner
from xsudo.keys.passphrase import IMPORT_PASSPHRASE_ENV, KEY_PASSPHRASE_ENV, PassphraseSource
from xsudo.keys.pkcs11_link import PKCS11_MODULE_ENV, PKCS11_PIN_ENV, close_sessions, pin_source
from xsudo.keys.pkcs11_store import Pkcs11Config, Pkcs11KeyBackend, Pkcs11Signer
from xsudo.keys.records import KeyRecord, validate_key_name
from xsudo.keys.store import STORE_NAMES, KeyStore

__all__ = [
    "DEFAULT_KDF_ROUNDS",
    "IMPORT_PASSPHRASE_ENV",
    "KEY_PASSPHRASE_ENV",
    "PKCS11_MODULE_ENV",
    "PKCS11_PIN_ENV",
    "STORE_NAMES",
    "CommandKeyBackend",
    "CommandSigner",
    "FileKeyBackend",
    "KeyBackend",
    "KeyRecord",
    "KeyStore",
    "KeyringKeyBackend",
    "LocalKeyBackend",
    "LocalSigner",
    "PassphraseSource",
    "Pkcs11Config",
    "Pkcs11KeyBackend",
    "Pkcs11Signer",
    "SignerCommand",
    "SignerCommandError",
    "assess_backend",
    "close_sessions",
    "is_encrypted_private_key",
    "pin_source",
    "validate_key_name",
]
