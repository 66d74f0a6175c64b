#!/bin/sh
# A stand-in external signer for the command store, backed by the openssl CLI.
#
# Usage: openssl_signer.sh MODE KEY_FILE [PYTHON] DIGEST_FILE
# xsudo appends DIGEST_FILE (the 32-byte SHA-256 digest); `openssl pkeyutl -sign` signs it as
# a digest and prints a DER ECDSA-Sig-Value. MODE picks what goes to stdout:
#   der      openssl's DER, as is
#   raw      64-byte r||s (PYTHON converts the DER; give the interpreter as the 3rd argument)
#   base64   one line of Base64 of the DER, then a newline
#   garbage  text that is no signature
#   fail     a message on stderr and exit status 1
#   hang     a child process that sleeps; KEY_FILE receives its pid (for the timeout test)
#   inspect  like der, and records the digest file's mode, its directory's mode, its path, its
#            bytes and the environment next to KEY_FILE (KEY_FILE.mode/.path/.digest/.env)
set -eu
mode=$1
key=$2
shift 2
case "$mode" in
der)
    exec openssl pkeyutl -sign -inkey "$key" -in "$1"
    ;;
raw)
    python=$1
    openssl pkeyutl -sign -inkey "$key" -in "$2" | "$python" -c '
import sys
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
r, s = decode_dss_signature(sys.stdin.buffer.read())
sys.stdout.buffer.write(r.to_bytes(32, "big") + s.to_bytes(32, "big"))'
    ;;
base64)
    openssl pkeyutl -sign -inkey "$key" -in "$1" | openssl base64 -A
    echo
    ;;
garbage)
    echo "this is not a signature"
    ;;
fail)
    echo "vault: permission denied (403)" >&2
    echo "second line that must not be shown" >&2
    exit 1
    ;;
hang)
    sleep 60 &
    echo $! >"$key"
    wait
    ;;
inspect)
    stat -c '%a' "$1" >"$key.mode"
    stat -c '%a' "$(dirname "$1")" >>"$key.mode"
    printf '%s' "$1" >"$key.path"
    cp "$1" "$key.digest"
    env >"$key.env"
    exec openssl pkeyutl -sign -inkey "$key" -in "$1"
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
