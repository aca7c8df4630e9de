#!/usr/bin/env bash
# Make sure the Debian packages named on the command line are installed.
#
# The check is one dpkg-query call, so a second run never touches apt. When something is
# missing: as root, `apt-get update` and install it; otherwise fail and say what to run.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 PACKAGE..." >&2
    exit 2
fi

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
    case "$status" in
        ii*) ;;
        *) missing+=("$pkg") ;;
    esac
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    {
        echo "error: these Debian packages are needed and not installed: ${missing[*]}"
        echo "       install them as root, then run make again:"
        echo "       apt-get update && apt-get install -y ${missing[*]}"
    } >&2
    exit 1
fi

echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
