#!/bin/sh
# Install the system packages the tests need, if missing: Debian's chromium (headless
# rendering test of the HTML report). Idempotent and quiet; needs root (or sudo) only
# when something is actually missing. Exit 0 when everything is present afterwards.
set -eu

need=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need="$need chromium"

[ -z "$need" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_test_deps: please install:$need (no apt-get here); the browser test skips without it" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
        echo "install_test_deps: not root and no sudo; install:$need (the browser test skips without it)" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! { $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq $need >/dev/null; }; then
    echo "install_test_deps: could not install:$need; the browser test skips without it" >&2
fi
