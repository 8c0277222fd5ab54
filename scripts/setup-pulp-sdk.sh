#!/usr/bin/env bash
# pulp-sdk, the public PMSIS runtime (PULP OS) for pulp-open that `scons target=pmsis` builds the
# firmware against: fetched at the pinned commit into a cache folder outside this checkout.
# Nothing of it is built here: the firmware's SConscript (firmware/targets/pmsis) compiles the
# runtime sources it needs with Debian's RISC-V toolchain. Idempotent: once the checkout is at the
# pinned commit a second run checks and returns.
#
#   RNNSE_PULP_SDK_GIT   where the repository comes from (default https://github.com/pulp-platform):
#                        BASE/pulp-sdk.git; a folder of local mirrors with that name works too
#   RNNSE_PULP_SDK       where the checkout goes (default ${XDG_CACHE_HOME:-$HOME/.cache}/rnnse/pulp-sdk);
#                        scons target=pmsis and rnnse look there too
#
# docs/board.md says what is used from it and how.
set -euo pipefail

base="${RNNSE_PULP_SDK_GIT:-https://github.com/pulp-platform}"
base="${base%/}"
dest="${RNNSE_PULP_SDK:-${XDG_CACHE_HOME:-$HOME/.cache}/rnnse/pulp-sdk}"
commit=d4b5bcdd6e416a402a6e22a3e04f29402424cb21

say() { echo "setup-pulp-sdk: $*"; }
die() { echo "setup-pulp-sdk: error: $*" >&2; exit 1; }

case "$dest" in /*) ;; *) dest="$PWD/$dest" ;; esac

if [ "$(git -C "$dest" rev-parse HEAD 2>/dev/null)" = "$commit" ] \
   && [ -f "$dest/rtos/pulpos/common/include/pmsis.h" ] && git -C "$dest" diff --quiet HEAD 2>/dev/null; then
  say "ready: $dest (pulp-sdk ${commit:0:7})"
  exit 0
fi

command -v git >/dev/null || die "git not found (Debian: apt-get install git)"
mkdir -p "$(dirname "$dest")"
if [ ! -d "$dest/.git" ]; then
  [ ! -e "$dest" ] || [ -z "$(ls -A "$dest")" ] || die "$dest exists and is not a git checkout: move it away"
  say "fetching pulp-sdk from $base"
  git clone -q --no-checkout "$base/pulp-sdk.git" "$dest" || die "cannot clone $base/pulp-sdk.git (set RNNSE_PULP_SDK_GIT to a reachable base)"
fi
if ! git -C "$dest" cat-file -e "$commit^{commit}" 2>/dev/null; then
  git -C "$dest" fetch -q origin || die "cannot fetch from $(git -C "$dest" remote get-url origin)"
fi
git -C "$dest" -c advice.detachedHead=false checkout -q -f "$commit" \
  || die "pulp-sdk commit $commit not found in $base/pulp-sdk.git"
[ -f "$dest/rtos/pulpos/common/include/pmsis.h" ] || die "$dest has no rtos/pulpos: not a pulp-sdk checkout"
say "ready: $dest (pulp-sdk ${commit:0:7}; scons target=pmsis finds it there, RNNSE_PULP_SDK overrides)"
