#!/usr/bin/env bash
# Installs the Debian packages Qt needs at run time, Xvfb for screenshots, the sqlite3 CLI and
# PostgreSQL for the tests and benchmarks, if any is missing.
# Called by `make run`, `make test` and .ci/run, so a bare Debian/Ubuntu machine needs nothing else.
set -euo pipefail

PACKAGES=(
    libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6 libdbus-1-3
    libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4
    libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
    libxcb-xfixes0 libxcb-xkb1 libxcb-sync1 libxcb-shm0
    fonts-dejavu-core xvfb xauth sqlite3 postgresql
)

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing system packages (${missing[*]}) and no apt-get: install Qt 6's runtime libraries by hand." >&2
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
