"""EC P-256 key handling and ECDSA verification, with nothing about AT or key storage.

Every key the toolkit accepts goes through :func:`require_p256`, so a key on any other curve
(or of another algorithm) fails with one clear message naming what was found.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from xsudo.encoding import encode_der
from xsudo.errors import BadInputError, Remedy, UnsupportedKeyError, WrongPassphraseError

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

PrivateKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey


def _describe_key(key: object) -> str:
    curve = getattr(key, "curve", None)
    if curve is not None:
        return f"an EC key on curve {curve.name}"
    kind = type(key).__name__.lstrip("_").replace("PrivateKey", "").replace("PublicKey", "")
    return f"a key of type {kind or 'unknown'}"


def require_p256_private(key: object) -> PrivateKey:
    """Return ``key`` if it is an EC P-256 private key, else raise :class:`UnsupportedKeyError`."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise UnsupportedKeyError(
        f"this is {_describe_key(key)}; XSUDO needs an EC P-256 (secp256r1/prime256v1) key",
        "generate one (KeyStore.generate)",
        remedy=Remedy("generate-key"),
    )


def require_p256_public(key: object) -> PublicKey:
    """Return ``key`` if it is an EC P-256 public key, else raise :class:`UnsupportedKeyError`."""
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise UnsupportedKeyError(
        f"this is {_describe_key(key)}; XSUDO needs an EC P-256 (secp256r1/prime256v1) key"
    )


def generate_private_key() -> PrivateKey:
    """A fresh EC P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def is_encrypted_private_key(data: bytes) -> bool:
    """True when ``data`` is a PEM or DER private key that needs a passphrase to open.

    Anything else (a plain key, garbage) gives ``False``; loading it then reports what is wrong.
    """
    loader = (
        serialization.load_pem_private_key
        if b"-----BEGIN" in data
        else serialization.load_der_private_key
    )
    try:
        loader(data, None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


def load_private_key(data: bytes, password: bytes | None = None) -> PrivateKey:
    """Load a PEM or DER private key (PKCS#8, SEC1 or PKCS#8-encrypted) and require P-256.

    ``password`` opens an encrypted key. A missing or wrong password raises
    :class:`WrongPassphraseError`; bytes that are no key raise :class:`BadInputError`.
    """
    loader = (
        serialization.load_pem_private_key
        if b"-----BEGIN" in data
        else serialization.load_der_private_key
    )
    try:
        key = loader(data, password)
    except TypeError:
        if password is None:
            raise WrongPassphraseError(
                "the key file is encrypted and no passphrase was given"
            ) from None
        raise WrongPassphraseError(
            "the key file is not encrypted, but a passphrase was given"
        ) from None
    except ValueError as exc:
        wrong = "incorrect password" in str(exc).lower() or is_encrypted_private_key(data)
        if password is not None and wrong:
            # An encrypted key that does not open with the passphrase given: older
            # cryptography releases report some wrong passphrases (a decryption whose
            # padding happens to check out) as undecodable data.
            raise WrongPassphraseError("wrong passphrase for the key file") from None
        raise BadInputError(
            "not a PEM or DER private key", "give a PKCS#8 or SEC1 EC private key file"
        ) from None
    except UnsupportedAlgorithm as exc:
        raise UnsupportedKeyError(f"unsupported key algorithm ({exc})") from None
    return require_p256_private(key)


def load_public_key(data: bytes) -> PublicKey:
    """Load a PEM or DER SubjectPublicKeyInfo (or a PEM that also holds a private key).

    Accepts a private key too, and takes its public half, so ``--public-key`` can be given
    whatever file is at hand without printing anything secret.
    """
    try:
        if b"-----BEGIN" in data:
            if b"PRIVATE KEY" in data:
                return require_p256_private(
                    serialization.load_pem_private_key(data, None)
                ).public_key()
            key: object = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise BadInputError(
            "not a PEM or DER public key",
            "give a SubjectPublicKeyInfo PEM (-----BEGIN PUBLIC KEY-----) or DER",
            remedy=Remedy("export-key"),
        ) from None
    return require_p256_public(key)


def public_key_der(key: PublicKey) -> bytes:
    """The SubjectPublicKeyInfo DER of ``key``."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_pem(key: PublicKey) -> str:
    """The SubjectPublicKeyInfo PEM (LF line ends, one trailing LF): what ``%XPMNG`` takes."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(key: PublicKey) -> str:
    """Key fingerprint: lower-case hex SHA-256 of the SubjectPublicKeyInfo DER."""
    return hashlib.sha256(public_key_der(key)).hexdigest()


def verify_digest(key: PublicKey, digest: bytes, r: int, s: int) -> bool:
    """True when ``(r, s)`` is a valid ECDSA signature by ``key`` over the SHA-256 ``digest``.

    Values outside ``[1, n-1]`` are rejected before the library sees them.
    """
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        return False
    try:
        key.verify(encode_der(r, s), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def verify_message(key: PublicKey, message: bytes, r: int, s: int) -> bool:
    """True when ``(r, s)`` is a valid ECDSA-SHA256 signature by ``key`` over ``message``."""
    return verify_digest(key, hashlib.sha256(message).digest(), r, s)


def sign_digest_deterministic(key: PrivateKey, digest: bytes) -> tuple[int, int]:
    """RFC 6979 deterministic ECDSA over a SHA-256 ``digest``; returns ``(r, s)``."""
    der = key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()), deterministic_signing=True))
    return utils.decode_dss_signature(der)
