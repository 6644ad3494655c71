#!/usr/bin/env bash
# ctest "bundle": writes a bundle (scripts/bundle.sh --no-build) from the
# build in ALLOCLAB_BUILD_DIR (default build/), unpacks it in a temporary
# folder and runs it with the system's copies of every library it bundles out
# of reach: in a private mount namespace, /dev/null is bind-mounted over each
# of them, so loading one fails ("file too short") instead of succeeding
# silently. There `alloclab list` and a small run over the four general
# allocators must succeed, every cell must be ok, and every preloaded object
# (list's "loaded from", the results' context.allocators) must lie inside the
# bundle; bin/many-core.sh --quick must write its three files, which
# scripts/bench-harness.sh --summarize reads. A control first checks the build's own alloclab cannot start in
# that namespace (its libstdc++ is hidden). Then, where python3 has
# matplotlib, `alloclab report` runs from the bundle's report/ scripts.
# Exit 77 (ctest SKIP_RETURN_CODE) when a mount namespace is not permitted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${ALLOCLAB_BUILD_DIR:-build}
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"

skip() { echo "test-bundle: SKIP: $*"; exit 77; }
fail() { echo "test-bundle: FAIL: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || skip "needs root to mount over the system libraries"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
unshare --mount --propagation private true 2>/dev/null ||
  skip "unshare --mount is not permitted here (a container without CAP_SYS_ADMIN?)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/alloclab-test-bundle.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT

"$root/scripts/bundle.sh" --no-build -o "$tmp/alloclab-bundle.tar.gz" ||
  fail "scripts/bundle.sh failed"
mkdir "$tmp/unpacked"
tar -C "$tmp/unpacked" -xzf "$tmp/alloclab-bundle.tar.gz"
b="$tmp/unpacked/alloclab-bundle"
for f in bin/alloclab bin/alloclab-worker bin/many-core.sh lib/libstdc++.so.6 report/report.py README.txt MANIFEST; do
  [[ -e "$b/$f" ]] || fail "the bundle has no $f"
done
(cd "$b" && awk 'NR > 2 && NF { print $1 "  " $3 }' MANIFEST | sha256sum -c --quiet -) ||
  fail "MANIFEST checksums do not match"

# The real file behind every system copy of a bundled library.
declare -A seen
hide=()
for f in "$b"/lib/*; do
  n=$(basename "$f")
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /lib /usr/local/lib; do
    [[ -e "$d/$n" ]] || continue
    real=$(readlink -f "$d/$n")
    [[ -n "${seen[$real]:-}" ]] && continue
    seen[$real]=1
    hide+=("$real")
  done
done
[[ ${#hide[@]} -ge 4 ]] || fail "found only ${#hide[@]} system copies to hide: ${hide[*]}"
echo "test-bundle: hiding ${hide[*]}"

cat >"$tmp/inner.sh" <<'EOF'
set -eu
b=$1 build_alloclab=$2 work=$3
shift 3
for f in "$@"; do mount --bind /dev/null "$f"; done
for f in "$@"; do
  if [ -s "$f" ]; then echo "test-bundle: $f is still readable" >&2; exit 1; fi
done
if "$build_alloclab" --help >/dev/null 2>&1; then
  echo "test-bundle: the build's alloclab still starts: the system libraries are not hidden" >&2
  exit 1
fi
cd "$work"
"$b/bin/alloclab" list
"$b/bin/alloclab" list --json >list.json
"$b/bin/alloclab" run --backends glibc,jemalloc,mimalloc,tcmalloc,apr-real@tcmalloc \
  --workloads http1-static --requests 20 --threads 1 --reps 1 -q -o r.json
"$b/bin/many-core.sh" --quick -o many-core 2>many-core.log
EOF
unshare --mount --propagation private sh "$tmp/inner.sh" "$b" "$build_dir/alloclab" "$tmp" "${hide[@]}" ||
  fail "the bundle did not run with the system libraries hidden (status $?)"

python=/usr/bin/python3
[[ -x $python ]] || python=python3
"$python" - "$b" "$tmp/list.json" "$tmp/r.json" <<'EOF' || fail "the bundle's results are wrong"
import json, sys
bundle, list_file, results_file = sys.argv[1:]
lib = bundle + "/lib/"
errors = []
for b in json.load(open(list_file))["backends"]:
    if b["kind"] != "general" or b["name"] == "glibc":
        continue
    path = b["library"].get("path", "")
    if not b["library"].get("available") or not path.startswith(lib):
        errors.append("list: %s: %s" % (b["name"], b["library"]))
results = json.load(open(results_file))
for c in results["cells"]:
    if c["status"] != "ok":
        errors.append("cell %s: %s %s" % (c.get("id"), c["status"], c.get("reason", "")))
if len(results["cells"]) != 5:
    errors.append("%d cells, expected 5" % len(results["cells"]))
allocs = results["context"]["allocators"]
for name in ("jemalloc", "mimalloc", "tcmalloc"):
    obj = allocs.get(name, {}).get("object", "")
    if not obj.startswith(lib):
        errors.append("context.allocators.%s: %s is not in the bundle" % (name, allocs.get(name)))
for e in errors:
    print("test-bundle:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

# The many-core script ran from the bundle: every file written, and the
# summary reads them.
for f in machine.txt scaling.json default.json untimed.jsonl; do
  [[ -s "$tmp/many-core/$f" ]] || fail "bin/many-core.sh --quick wrote no $f"
done
# The whole summary first, then the search: grep -q would stop reading at
# the match, and the summary's next write would fail on the closed pipe.
summary=$("$root/scripts/bench-harness.sh" --summarize "$tmp/many-core") ||
  fail "scripts/bench-harness.sh --summarize failed on the many-core files"
[[ "$summary" == *"null's threads"* && "$summary" == *"weak scaling on"* && "$summary" == *"untimed"* ]] ||
  fail "scripts/bench-harness.sh --summarize did not read the many-core files"

if "$python" -c 'import matplotlib' 2>/dev/null; then
  env -u ALLOCLAB_REPORT_DIR "$b/bin/alloclab" report "$tmp/r.json" -o "$tmp/report" >/dev/null ||
    fail "alloclab report with the bundle's scripts failed"
  [[ -s "$tmp/report/report.html" ]] || fail "alloclab report wrote no report.html"
else
  echo "test-bundle: python3 has no matplotlib; report not checked"
fi
echo "test-bundle: ok ($(du -k "$tmp/alloclab-bundle.tar.gz" | cut -f1) KiB bundle)"
