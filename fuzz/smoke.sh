#!/usr/bin/env bash
# Fuzz smoke test: runs every fuzz target for N seconds (default 20) from the
# committed corpus and fails if any target crashes, hangs (>5 s on one input)
# or goes over 2 GiB. Usable from CI:
#
#   fuzz/smoke.sh            # 20 s per target
#   fuzz/smoke.sh 60         # 60 s per target
#
# Environment:
#   SMOKE_TARGETS="a b"      only these targets (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER=none      build without AddressSanitizer (default: address)
#   CARGO_TARGET_DIR=DIR     where to build (default: fuzz/target)
#   ACRONIS_FUZZ_TOLERATE_KNOWN=1
#                            skip the findings already listed in fuzz/README.md
#   SMOKE_REGRESSIONS=0      skip replaying fuzz/regressions/<target>/* (the fixed
#                            findings; replayed first by default)
#
# cargo-fuzz needs nightly compiler flags; on a stable toolchain they are
# allowed with RUSTC_BOOTSTRAP=1, which this script sets when rustc is not a
# nightly. Nothing is written into the committed corpus: new inputs go to a
# temporary directory. Crash inputs are kept in fuzz/artifacts/<target>/.
set -uo pipefail

seconds="${1:-20}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || cargo install cargo-fuzz || exit 1
fi

sanitizer="${FUZZ_SANITIZER:-address}"
target_dir="${CARGO_TARGET_DIR:-$here/target}"
common=(-a --sanitizer "$sanitizer" --target-dir "$target_dir")

echo "smoke: building fuzz targets (sanitizer: $sanitizer)" >&2
cargo fuzz build "${common[@]}" || { echo "smoke: build failed" >&2; exit 1; }

targets="${SMOKE_TARGETS:-$(cargo fuzz list)}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()

for t in $targets; do
    if [ "${SMOKE_REGRESSIONS:-1}" = 1 ] && [ -d "fuzz/regressions/$t" ]; then
        for f in fuzz/regressions/"$t"/*; do
            [ -f "$f" ] || continue
            if ! cargo fuzz run "${common[@]}" "$t" "$f" >"$scratch/$t.regression.log" 2>&1; then
                echo "smoke: $t: regression $f fails" >&2
                grep -m1 -A1 panicked "$scratch/$t.regression.log" >&2
                failed+=("$t:regression")
            fi
        done
    fi
    mkdir -p "$scratch/$t"
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=fuzz/dict/$t.dict")
    echo "smoke: $t for ${seconds}s" >&2
    if cargo fuzz run "${common[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 "${dict[@]}" \
        >"$scratch/$t.log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE' "$scratch/$t.log" | tail -1 >&2
    else
        echo "smoke: $t FAILED; libFuzzer said:" >&2
        grep -E -A1 'panicked' "$scratch/$t.log" | head -4 >&2
        grep -E 'ERROR: libFuzzer|Test unit written' "$scratch/$t.log" | head -4 >&2
        failed+=("$t")
    fi
done

n=$(echo $targets | wc -w)
if [ "${#failed[@]}" -gt 0 ]; then
    echo "smoke: FAILED: ${failed[*]}" >&2
    bad=$(printf '%s\n' "${failed[@]}" | cut -d: -f1 | sort -u | wc -l)
    echo "fuzz: $((n - bad)) passed, $bad failed"
    exit 1
fi
echo "smoke: all $n fuzz targets ran ${seconds}s without a crash" >&2
echo "fuzz: $n passed, 0 failed"
exit 0
