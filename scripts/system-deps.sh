#!/usr/bin/env bash
# Installs the system packages the tests need (PostgreSQL server, Chromium) from Debian when
# they are missing and this user may install packages. Under CI=true a missing one is an error.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo="sudo -n"
else
  echo "system-deps: missing ${missing[*]} and no permission to install them" >&2
  [ "${CI:-}" = "true" ] && exit 1
  echo "system-deps: tests that need them will be skipped" >&2
  exit 0
fi

echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
