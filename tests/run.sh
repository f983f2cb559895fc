#!/usr/bin/env bash
# Runs every test of acronis-cred: unit tests, and the end-to-end tests that
# use a private gnome-keyring Secret Service on a private D-Bus, the kernel
# keyring, a loopback fake datacenter, and real curl.
#
# Needs these Debian packages; as root it installs the missing ones, otherwise
# it names them and stops:
#   dbus-daemon dbus-bin gnome-keyring libsecret-tools keyutils curl
#
# Usage: tests/run.sh [extra cargo-nextest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dbus-daemon dbus-bin gnome-keyring libsecret-tools keyutils curl)
commands=(dbus-daemon dbus-send gnome-keyring-daemon secret-tool keyctl curl)

missing=()
for i in "${!commands[@]}"; do
    command -v "${commands[$i]}" >/dev/null 2>&1 || missing+=("${packages[$i]}")
done
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "tests/run.sh: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "tests/run.sh: missing packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
    cargo test --workspace --all-targets --no-fail-fast "$@"
fi
