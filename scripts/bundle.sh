#!/usr/bin/env bash
# Writes one archive that runs alloclab on another x86-64 Linux with glibc
# 2.36 or newer, installing nothing there:
#   scripts/bundle.sh [-o alloclab-bundle.tar.gz] [--no-build]
# It builds Release in build/ (scripts/build.sh) unless ALLOCLAB_BUILD_DIR
# names another build directory (then only the bundled targets are built
# there) or --no-build is given (the binaries must exist).
#
# Layout (the folder is named after the archive):
#   bin/alloclab, bin/alloclab-worker, bin/liballoclab_capture.so,
#             bin/liballoclab_whoami.so (serve; the servers themselves are not bundled),
#             bin/many-core.sh, bin/untimed-floor.sh (from scripts/)
#   lib/      the preloaded allocators (Debian's files, their own names) and
#             every shared object they and bin/ need beyond glibc
#   report/   the report scripts (ALLOCLAB_REPORT_DIR), for `alloclab report`
#   README.txt, MANIFEST (sha256, size and origin of every file)
# The binaries find lib/ through RUNPATH ($ORIGIN/../lib, set with
# patchelf), not LD_LIBRARY_PATH, which would leak into the programs alloclab
# starts (python3 for reports, programs under `trace capture`). The preload
# paths come from allocators/general/library.cpp, which prefers ROOT/lib when
# ROOT holds a MANIFEST.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

out=alloclab-bundle.tar.gz
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    -o | --output) out=${2:?"-o needs a file name"}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bundle.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$out" == *.tar.gz ]] || { echo "bundle.sh: the output must end in .tar.gz: $out" >&2; exit 2; }
out_dir=$(cd "$(dirname "$out")" 2>/dev/null && pwd) || { echo "bundle.sh: no folder for $out" >&2; exit 2; }
out="$out_dir/$(basename "$out")"
name=$(basename "$out" .tar.gz)

die() { echo "bundle.sh: $*" >&2; exit 1; }

# --- the build ----------------------------------------------------------------
build_dir=${ALLOCLAB_BUILD_DIR:-build}
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"
if [[ $build == 1 && -z "${ALLOCLAB_BUILD_DIR:-}" ]]; then
  "$root/scripts/build.sh"
elif [[ $build == 1 ]]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)" \
    --target alloclab alloclab-worker alloclab_capture alloclab_whoami
fi
cache="$build_dir/CMakeCache.txt"
[[ -f "$cache" && -x "$build_dir/alloclab" && -x "$build_dir/alloclab-worker" ]] ||
  die "no build in $build_dir (run scripts/build.sh, or drop --no-build)"
grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$cache" || die "$build_dir is not a Release build"
if grep -q '^ALLOCLAB_SANITIZE:BOOL=ON$' "$cache"; then
  die "$build_dir is a sanitizer build, which cannot preload the allocators"
fi

# patchelf writes RUNPATH into the bundled copies (never into the build).
if ! command -v patchelf >/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q patchelf >/dev/null
  else
    die "needs patchelf: sudo apt-get install patchelf"
  fi
fi
python=/usr/bin/python3
[[ -x $python ]] || python=python3

# --- staging ------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/alloclab-bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/$name"
mkdir -p "$stage/bin" "$stage/lib" "$stage/report"

cp "$build_dir/alloclab" "$build_dir/alloclab-worker" "$stage/bin/"
[[ -f "$build_dir/liballoclab_capture.so" ]] && cp "$build_dir/liballoclab_capture.so" "$stage/bin/"
[[ -f "$build_dir/liballoclab_whoami.so" ]] && cp "$build_dir/liballoclab_whoami.so" "$stage/bin/"
# Release builds carry no debug information; the symbol table is all strip
# removes (nothing reads our own symbols at run time).
strip "$stage/bin/alloclab" "$stage/bin/alloclab-worker"

# The preload libraries exactly as the build's workers load and verify them.
list_json=$("$build_dir/alloclab" list --json) || die "alloclab list failed"
mapfile -t preloads < <("$python" -c '
import json, sys
for b in json.load(sys.stdin)["backends"]:
    lib = b.get("library")
    if b["kind"] != "general" or b["name"] == "glibc":
        continue
    if not lib or not lib.get("available"):
        sys.exit("bundle.sh: %s is unavailable: %s" % (b["name"], (lib or {}).get("reason")))
    print(lib["path"])
' <<<"$list_json")
[[ ${#preloads[@]} -ge 3 ]] || die "expected the jemalloc, mimalloc and tcmalloc libraries"
declare -A origin  # bundled file name -> the system file it was copied from
for p in "${preloads[@]}"; do
  cp -L "$p" "$stage/lib/"
  origin[$(basename "$p")]=$p
done

# Every shared object they need, except glibc's own (the target has glibc
# 2.36 or newer; libstdc++ and the others may be older or absent there).
is_glibc() {
  case "$1" in
    linux-vdso.so.* | ld-linux-x86-64.so.* | libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | \
      librt.so.* | libresolv.so.* | libutil.so.* | libanl.so.* | libmvec.so.* | libBrokenLocale.so.*) return 0 ;;
  esac
  return 1
}
for elf in "$stage"/bin/* "$stage"/lib/*; do
  while read -r soname arrow path _; do
    [[ "$arrow" == "=>" ]] || continue
    is_glibc "$soname" && continue
    [[ -f "$path" ]] || die "$(basename "$elf") needs $soname, which is not found"
    if [[ ! -e "$stage/lib/$soname" ]]; then
      cp -L "$path" "$stage/lib/$soname"
      origin[$soname]=$(readlink -f "$path")
    fi
  done < <(ldd "$elf")
done
chmod 0755 "$stage"/lib/*
# shellcheck disable=SC2016  # $ORIGIN is for the dynamic linker, not the shell
patchelf --set-rpath '$ORIGIN/../lib' "$stage/bin/alloclab" "$stage/bin/alloclab-worker"
# shellcheck disable=SC2016
for f in "$stage"/lib/*; do patchelf --set-rpath '$ORIGIN' "$f"; done

# The newest glibc symbol version any bundled object needs.
glibc_needed=$(objdump -T "$stage"/bin/* "$stage"/lib/* 2>/dev/null |
  grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n -u | tail -1)

# Scripts after the ELF steps above, which read every file in bin/.
cp "$root/scripts/many-core.sh" "$root/scripts/untimed-floor.sh" "$stage/bin/"
for f in "$root"/harness/report/*.py "$root/harness/report/claims.json"; do
  cp "$f" "$stage/report/"
done

# --- README.txt and MANIFEST --------------------------------------------------
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$cache")
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
if [[ $revision != unknown && -n $(git -C "$root" --no-optional-locks status --porcelain \
  --untracked-files=no 2>/dev/null) ]]; then
  revision+="-dirty"
fi
built_on=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")
compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache")
compiler_version=$("$compiler" -dumpfullversion 2>/dev/null || echo unknown)

cat >"$stage/README.txt" <<EOF
alloclab $version, a portable bundle
source revision $revision

Runs on x86-64 Linux with glibc $glibc_needed or newer. Built on $built_on
(glibc $(ldd --version | sed -n '1s/.* //p'), g++ $compiler_version). Nothing to install: unpack it in a
folder whose path has no spaces or colons (LD_PRELOAD splits on them) and run

  bin/alloclab list           # the allocators, loaded from lib/
  bin/alloclab smoke
  bin/alloclab run --quick -o quick.json
  bin/alloclab run -o results.json          # the default suite
  bin/alloclab --help
  bin/many-core.sh -o many-core/            # weak scaling up to every core, pinned,
                                            # and the harness's cost (see --help)

The workers preload jemalloc, mimalloc and tcmalloc from lib/ (Debian 12's
builds, the files the reference results were measured with); bin/ finds
lib/ through RUNPATH, so no environment variable is needed. glibc is the
machine's own: the glibc backend measures the target's malloc, and
context.allocators in a results file names every object that answered malloc.

Reports need python3 with matplotlib, here or wherever the results file goes:

  bin/alloclab report results.json -o report-out/   # the scripts in report/

Results written here record git_revision "unknown" (no source tree); the
revision is the one above. MANIFEST lists every file with its sha256, size
and origin; check it with

  awk 'NR > 2 && NF { print \$1 "  " \$3 }' MANIFEST | sha256sum -c -
EOF

{
  echo "# alloclab $version ($revision), built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $built_on, needs glibc >= $glibc_needed"
  echo "# sha256 bytes path origin"
  (cd "$stage" && find . -type f ! -name MANIFEST | sed 's|^\./||' | LC_ALL=C sort) | while read -r f; do
    sum=$(sha256sum "$stage/$f" | cut -d' ' -f1)
    size=$(stat -c %s "$stage/$f")
    from="alloclab $version"
    case "$f" in
      report/*) from="harness/report/${f#report/}" ;;
      lib/*)
        src=${origin[${f#lib/}]}
        # dpkg may know the file by its pre-merged-/usr path (/lib/...).
        pkg=$({ dpkg-query -S "$src" || dpkg-query -S "${src#/usr}"; } 2>/dev/null | head -1 | cut -d: -f1 || true)
        if [[ -n "$pkg" ]]; then
          from="$src ($pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null))"
        else
          from="$src"
        fi
        ;;
    esac
    echo "$sum $size $f $from"
  done
} >"$stage/MANIFEST"

tar -C "$tmp" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out.tmp.$$" "$name"
mv -f "$out.tmp.$$" "$out"
echo "bundle.sh: wrote $out ($(du -k "$out" | cut -f1) KiB, glibc >= $glibc_needed)"
