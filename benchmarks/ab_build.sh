#!/usr/bin/env bash
# Builds ember's Python module at any commit and assembles DEST/ember (python/ember
# of that commit plus its _core*.so) for benchmarks/ab.py:
#
#   benchmarks/ab_build.sh GITREV DEST        e.g.  benchmarks/ab_build.sh feac4d4 /work/ab/old
#
# Worktree-free: the commit's tree comes from `git archive` into a temporary folder
# (your checkout and its build/ are left alone), is configured like
# `pip install .` configures it (Release, Python module on, C++ tests off) and
# built with `nice`. Both sides of an A/B must come from this script so that they
# share every setting. Extra CMake arguments: EMBER_AB_CMAKE_ARGS="-DEMBER_CUDA=OFF";
# parallel jobs: EMBER_AB_JOBS (default 2). DEST is replaced only when it is
# absent, empty or an earlier result of this script (it has a BUILD_INFO file).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 GITREV DEST" >&2
  exit 2
fi
rev=$1
dest=$(realpath -m "$2")
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse --verify --quiet "$rev^{commit}") ||
  { echo "$0: '$rev' is not a commit in $repo" >&2; exit 2; }
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ] && [ ! -f "$dest/BUILD_INFO" ]; then
  echo "$0: $dest exists and is not an earlier ab_build.sh result; refusing to replace it" >&2
  exit 2
fi
python=$(command -v python)
pybind11_dir=$("$python" -m pybind11 --cmakedir)

stage=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ember-ab-build.XXXXXX")
trap 'rm -rf "$tmp"; [ -z "$stage" ] || rm -rf "$stage"' EXIT
mkdir "$tmp/src"
git -C "$repo" archive "$commit" | tar -x -C "$tmp/src"

# shellcheck disable=SC2086  # EMBER_AB_CMAKE_ARGS is a list of arguments
nice cmake -S "$tmp/src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DEMBER_BUILD_PYTHON=ON -DEMBER_BUILD_TESTS=OFF \
  -DPython_EXECUTABLE="$python" -Dpybind11_DIR="$pybind11_dir" ${EMBER_AB_CMAKE_ARGS:-} \
  >"$tmp/configure.log" || { cat "$tmp/configure.log" >&2; exit 1; }
nice cmake --build "$tmp/build" -j"${EMBER_AB_JOBS:-2}"

# Assemble beside DEST, then swap it in, so DEST is never half-written.
mkdir -p "$(dirname "$dest")"
stage=$(mktemp -d "$dest.new.XXXXXX")
cp -r "$tmp/src/python/ember" "$stage/ember"
cp "$tmp/build"/_core*.so "$stage/ember/"
{
  echo "commit $(git -C "$repo" log -1 --format='%h %s' "$commit")"
  # e.g. "ember: BLAS from scipy-openblas32", "ember: CUDA backend ON (...)"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) by benchmarks/ab_build.sh: Release," \
    "$(grep -E '^CMAKE_CXX_COMPILER:' "$tmp/build/CMakeCache.txt" | cut -d= -f2)," \
    "$(sed -n 's/^EMBER_NATIVE:BOOL=/EMBER_NATIVE=/p' "$tmp/build/CMakeCache.txt")," \
    "$(sed -n 's/^-- ember: //p' "$tmp/configure.log" | paste -sd';' - | sed 's/;/, /g')" \
    "${EMBER_AB_CMAKE_ARGS:+"(extra CMake arguments: $EMBER_AB_CMAKE_ARGS)"}" | sed 's/ *$//'
} >"$stage/BUILD_INFO"
chmod 755 "$stage"
rm -rf "$dest"
mv "$stage" "$dest"

PYTHONPATH="$dest" "$python" -c "import ember, ember._core as c; print('ember from', ember.__file__); print('core', c.__file__)"
cat "$dest/BUILD_INFO"
