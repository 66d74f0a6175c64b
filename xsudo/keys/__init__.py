"""Named EC P-256 keys: public metadata on disk, secrets in the OS keychain or encrypted files.

Public API (other layers code against these names)::

    KeyStore(home, passphrase=None)     generate / import_key / list / get / public_key /
                                        signer / delete / default_store
    KeyRecord                           public facts about one key (to_json: no secrets)
    PassphraseSource                    passphrase from a file, the environment, or a tty
    KeyBackend                          the Protocol a store backend implements
"""

from xsudo.keys.backend import KeyBackend, LocalKeyBackend
from xsudo.keys.file_store import DEFAULT_KDF_ROUNDS, FileKeyBackend
from xsudo.keys.keyfile import is_encrypted_private_key
from xsudo.keys.keyring_store import KeyringKeyBackend, assess_backend
from xsudo.keys.local_signer import LocalSigner
from xsudo.keys.passphrase import IMPORT_PASSPHRASE_ENV, KEY_PASSPHRASE_ENV, PassphraseSource
from xsudo.keys.records import KeyRecord, validate_key_name
from xsudo.keys.store import STORE_NAMES, KeyStore

__all__ = [
    "DEFAULT_KDF_ROUNDS",
    "IMPORT_PASSPHRASE_ENV",
    "KEY_PASSPHRASE_ENV",
    "STORE_NAMES",
    "FileKeyBackend",
    "KeyBackend",
    "KeyRecord",
    "KeyStore",
    "KeyringKeyBackend",
    "LocalKeyBackend",
    "LocalSigner",
    "PassphraseSource",
    "assess_backend",
    "is_encrypted_private_key",
    "validate_key_name",
]
