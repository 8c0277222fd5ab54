#!/usr/bin/env bash
# GVSoC, the PULP simulator behind `rnnse enhance --target gvsoc`, `rnnse bench gvsoc` and
# tests/test_pulp.py: fetched at the commits the committed benchmarks were measured with, built
# for the pulp-open target alone (optimised variant only) into a cache folder outside this
# checkout, with its own Python virtual environment and a wrapper launcher that rnnse finds by
# itself. Idempotent: once everything is in place a second run checks and returns.
#
#   RNNSE_GVSOC_GIT   where the repositories come from (default https://github.com/gvsoc): BASE/gvsoc.git,
#                     BASE/gvsoc-core.git, BASE/gvsoc-pulp.git, BASE/gvrun.git, BASE/gvtest.git and
#                     BASE/pulpos.git; a folder of local mirrors with those names works too
#   RNNSE_GVSOC_HOME  where everything goes (default ${XDG_CACHE_HOME:-$HOME/.cache}/rnnse/gvsoc):
#                     src/ (the checkout), venv/, build/, install/, bin/gvsoc (the wrapper)
#   RNNSE_GVSOC_JOBS  parallel compile jobs (default: the number of cores)
#
# docs/gvsoc.md says what each step does and what it costs.
set -euo pipefail

base="${RNNSE_GVSOC_GIT:-https://github.com/gvsoc}"
base="${base%/}"
home="${RNNSE_GVSOC_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/rnnse/gvsoc}"
jobs="${RNNSE_GVSOC_JOBS:-$(nproc 2>/dev/null || echo 2)}"
target="pulp-open"

# The pinned commits: GVSoC itself and, for each submodule path, its repository and commit
# (the superproject records the same commits; they are checked, not trusted).
gvsoc_commit=209c147cbd293d5c1590694e68c489122c777acc
submodules=(
  "core    gvsoc-core f3784bc995ac3b8b036ffea2f78e240b738998b5"
  "pulp    gvsoc-pulp 748a706dbe767752a9c5f713c87875db1ff57d7c"
  "gvrun   gvrun      7d26e6fcbaea6f50ee8a6d966d7a2c4cce75b487"
  "gvtest  gvtest     39785acc7814fa8af0ff5a965c0f3de98fdf158e"
  "pulpos  pulpos     8cd918a42a13fcd40265aa944274c018df20ca70"
)

say() { echo "setup-gvsoc: $*"; }
die() { echo "setup-gvsoc: error: $*" >&2; exit 1; }

case "$jobs" in ''|*[!0-9]*|0) die "RNNSE_GVSOC_JOBS=$jobs is not a positive number of jobs" ;; esac
case "$home" in /*) ;; *) home="$PWD/$home" ;; esac
src="$home/src"; venv="$home/venv"; builddir="$home/build"; installdir="$home/install"
wrapper="$home/bin/gvsoc"
stamp="$installdir/.rnnse-build"
want_stamp="$gvsoc_commit $target BUILD_PROFILE=OFF BUILD_DEBUG=OFF"

# --- already done? -----------------------------------------------------------------------------
if [ -x "$wrapper" ] && [ -x "$installdir/bin/gvsoc" ] && [ -f "$stamp" ] \
   && [ "$(cat "$stamp")" = "$want_stamp" ] && [ "$(git -C "$src" rev-parse HEAD 2>/dev/null)" = "$gvsoc_commit" ]; then
  say "ready: $wrapper (GVSoC ${gvsoc_commit:0:7}, $target)"
  exit 0
fi

# --- Debian packages GVSoC's build needs -------------------------------------------------------
need=(git cmake make g++ python3-venv)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  say "installing Debian packages: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- sources at the pinned commits -------------------------------------------------------------
git_local=()
case "$base" in
  /*|file://*) git_local=(-c protocol.file.allow=always) ;;   # submodules from a local mirror
esac
mkdir -p "$home"
if [ ! -d "$src/.git" ]; then
  say "fetching GVSoC from $base"
  rm -rf "$src"
  git clone -q --no-checkout "$base/gvsoc.git" "$src" || die "cannot clone $base/gvsoc.git (set RNNSE_GVSOC_GIT to a reachable base)"
fi
if ! git -C "$src" cat-file -e "$gvsoc_commit^{commit}" 2>/dev/null; then
  git -C "$src" fetch -q origin || die "cannot fetch from $(git -C "$src" remote get-url origin)"
fi
git -C "$src" -c advice.detachedHead=false checkout -q "$gvsoc_commit" \
  || die "GVSoC commit $gvsoc_commit not found in $base/gvsoc.git"
git -C "$src" submodule init -q
for s in "${submodules[@]}"; do
  read -r path repo commit <<<"$s"
  git -C "$src" config "submodule.$path.url" "$base/$repo.git"
  recorded="$(git -C "$src" ls-tree "$gvsoc_commit" "$path" | awk '{print $3}')"
  [ "$recorded" = "$commit" ] || die "GVSoC ${gvsoc_commit:0:7} records $path at '$recorded', expected $commit"
done
say "checking out the submodules (core, pulp, gvrun, gvtest, pulpos)"
git -C "$src" "${git_local[@]}" submodule update -q --init --checkout \
  || die "cannot fetch GVSoC's submodules from $base"
for s in "${submodules[@]}"; do
  read -r path repo commit <<<"$s"
  [ "$(git -C "$src/$path" rev-parse HEAD)" = "$commit" ] || die "submodule $path is not at $commit"
done

# --- GVSoC's Python environment (never the project's .venv) ------------------------------------
reqs=("$src/core/requirements.txt" "$src/gapy/requirements.txt" "$src/gvrun/requirements.txt")
venv_want="$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.rnnse-requirements" 2>/dev/null)" != "$venv_want" ]; then
  say "creating GVSoC's Python environment in $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  "$venv/bin/python" -m pip install -q "${args[@]}" typing_extensions
  echo "$venv_want" > "$venv/.rnnse-requirements"
fi

# --- build pulp-open: optimised variant only ---------------------------------------------------
mkdir -p "$builddir"
cache="$builddir/CMakeCache.txt"
touch "$cache"
for opt in BUILD_PROFILE BUILD_DEBUG; do       # read by GVSoC's configuration as its initial cache
  sed -i "/^$opt:/d" "$cache"
  echo "$opt:BOOL=OFF" >> "$cache"
done
rm -f "$stamp"
say "building $target with $jobs jobs into $installdir (about 10 minutes on 2 cores)"
start=$(date +%s)
PATH="$venv/bin:$PATH" make -C "$src" build TARGETS="$target" BUILDDIR="$builddir" \
  INSTALLDIR="$installdir" CMAKE_FLAGS="-j $jobs" > "$home/build.log" 2>&1 \
  || { tail -n 30 "$home/build.log" >&2; die "GVSoC build failed (log: $home/build.log)"; }
[ -x "$installdir/bin/gvsoc" ] || die "the build did not install $installdir/bin/gvsoc (log: $home/build.log)"
say "built in $(( $(date +%s) - start )) s"

# --- the wrapper: GVSoC's launcher with its Python environment first on PATH --------------------
mkdir -p "$home/bin"
{
  echo '#!/bin/sh'
  echo "# GVSoC's launcher with its Python environment first on PATH (written by rnnse's scripts/setup-gvsoc.sh)."
  printf 'PATH=%q:"$PATH"\n' "$venv/bin"
  echo 'export PATH'
  printf 'exec %q "$@"\n' "$installdir/bin/gvsoc"
} > "$wrapper.tmp"
chmod +x "$wrapper.tmp"
mv "$wrapper.tmp" "$wrapper"
echo "$want_stamp" > "$stamp"
say "ready: $wrapper (rnnse finds it there; RNNSE_GVSOC overrides)"
