#!/usr/bin/env bash
# Create the virtual environment (if needed) and install the package into it, editable.
#
#   scripts/venv.sh VENV PYTHON [EXTRAS]     e.g.  scripts/venv.sh .venv python3.11 dev
#
# Debian's python3.11 needs the python3-venv package for `-m venv`; as root it is installed,
# otherwise the error says what to install.
set -euo pipefail

venv=${1:?usage: $0 VENV PYTHON [EXTRAS]}
python=${2:?usage: $0 VENV PYTHON [EXTRAS]}
extras=${3:-}

if [ ! -x "$venv/bin/python" ]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "error: $python not found; MedUnion needs Python 3.11 (Debian 12: apt-get install python3)" >&2
        exit 1
    fi
    version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$version" != "3.11" ]; then
        echo "error: $python is Python $version; MedUnion needs Python 3.11 (make PYTHON=/path/to/python3.11 ...)" >&2
        exit 1
    fi
    if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        "$(dirname "$0")/debian-packages.sh" python3-venv
    fi
    echo "creating $venv with $python"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi

target=.
if [ -n "$extras" ]; then
    target=".[$extras]"
fi
echo "installing $target into $venv"
"$venv/bin/python" -m pip install -q -e "$target"
