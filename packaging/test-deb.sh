#!/usr/bin/env bash
# Build the Debian package with cargo-deb and test it: its control fields,
# its file list, and the installed programs, man pages and completions.
#
#   packaging/test-deb.sh [CRATE_DIR]        (default: the checkout this script is in)
#
# Expects the [package.metadata.deb] table of packaging/deb/cargo-deb.toml.txt
# in CRATE_DIR/Cargo.toml. Installs cargo-deb $CARGO_DEB_VERSION when the one on
# PATH is another version or missing. Honours CARGO_TARGET_DIR.
#
# Steps: cargo build --release --locked; packaging/build-assets.sh into
# CRATE_DIR/target/assets (twice, to check it is reproducible); cargo deb
# --no-build; dpkg-deb -f / -c checks; dpkg -x into a temporary root and run
# the installed programs from there; then, as root on CI (CI set) or with
# PKG_TEST_DPKG_INSTALL=1, a real `dpkg -i`, the same checks against /usr, and
# `dpkg -r`. PKG_TEST_DPKG_INSTALL=0 turns the real install off. The real
# install is skipped if an acronis-cred package is already installed.
#
# Other knobs: PKG_TEST_KEEP=1 keeps the work directory; PKG_TEST_ALLOW_MISSING_ASSETS=1
# is passed to build-assets.sh (placeholder man pages and completions for a
# binary without `man`/`completions`: for packaging trials only, never CI).
#
# Ends with "test-deb: N passed, M failed[, K skipped]"; exits 1 on any failure.
set -uo pipefail

CARGO_DEB_VERSION=3.8.0
PKG=acronis-cred
HELPERS=(git-credential-acronis docker-credential-acronis terraform-credentials-acronis)
# The man page each helper name links to.
declare -A HELPER_MAN=([git-credential-acronis]=acronis-cred-git.1.gz
                       [docker-credential-acronis]=acronis-cred-docker.1.gz
                       [terraform-credentials-acronis]=acronis-cred-terraform.1.gz)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRATE=$(cd "${1:-$HERE/..}" && pwd) || { echo "test-deb: no such directory: ${1:-}" >&2; exit 2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CRATE/target}
case $CARGO_TARGET_DIR in /*) ;; *) CARGO_TARGET_DIR=$CRATE/$CARGO_TARGET_DIR ;; esac
ASSETS=$CRATE/target/assets      # where the cargo-deb metadata looks for them

passed=0 failed=0 skipped=0
real_installed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-deb.XXXXXX")

summary() { echo "test-deb: $passed passed, $failed failed$([ $skipped = 0 ] || echo ", $skipped skipped")"; }
cleanup() {
    if [ $real_installed = 1 ]; then
        echo "test-deb: removing the installed package ($PKG)" >&2
        dpkg -r "$PKG" >/dev/null 2>&1 || true
    fi
    if [ "${PKG_TEST_KEEP:-0}" = 1 ]; then echo "test-deb: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
skip() { skipped=$((skipped + 1)); printf 'skip %s\n' "$*"; }
fatal() { fail "$*"; summary; exit 1; }
note() { printf '\n== %s\n' "$*"; }
# Show the end of a log after a failure.
show() { [ -s "$1" ] && tail -n 40 "$1" | sed 's/^/     | /'; return 0; }
now() { date +%s; }

# ---------------------------------------------------------------- tools
note "tools"
need_pkgs=()
command -v cargo >/dev/null || fatal "cargo is not on PATH"
command -v dpkg-deb >/dev/null || need_pkgs+=(dpkg)
command -v dpkg-shlibdeps >/dev/null || need_pkgs+=(dpkg-dev)   # cargo-deb's depends = "$auto"
command -v man >/dev/null || need_pkgs+=(man-db)
command -v timeout >/dev/null || need_pkgs+=(coreutils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test-deb: installing ${need_pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends "${need_pkgs[@]}" >"$WORK/apt.log" 2>&1 ||
            { apt-get update >>"$WORK/apt.log" 2>&1 && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >>"$WORK/apt.log" 2>&1; } ||
            { show "$WORK/apt.log"; fatal "could not install ${need_pkgs[*]}"; }
    else
        fatal "missing Debian packages: ${need_pkgs[*]} (apt-get install ${need_pkgs[*]})"
    fi
fi
pass "tools: cargo, dpkg-deb, dpkg-shlibdeps, man"

grep -q '^\[package\.metadata\.deb\]' "$CRATE/Cargo.toml" ||
    fatal "$CRATE/Cargo.toml has no [package.metadata.deb] table: paste packaging/deb/cargo-deb.toml.txt into it"
pass "Cargo.toml has [package.metadata.deb]"

pkgid=$(cd "$CRATE" && cargo pkgid 2>/dev/null) || fatal "cargo pkgid failed in $CRATE"
VERSION=${pkgid##*[#@]}
top=$(dpkg-parsechangelog -l "$CRATE/packaging/deb/changelog" -S Version 2>/dev/null)
if [ "$top" = "$VERSION-1" ]; then
    pass "packaging/deb/changelog's top entry is $top"
else
    fail "packaging/deb/changelog's top entry is '$top' but Cargo.toml says $VERSION: add an entry for $VERSION-1 (dch -c packaging/deb/changelog -v $VERSION-1)"
fi

if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "test-deb: installing cargo-deb $CARGO_DEB_VERSION (found: $(cargo deb --version 2>/dev/null || echo none))"
    t=$(now)
    # Its own target dir, so a busy or shared CARGO_TARGET_DIR is not touched.
    CARGO_TARGET_DIR=$WORK/cargo-deb-build cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked >"$WORK/cargo-deb-install.log" 2>&1 ||
        { tail -n 30 "$WORK/cargo-deb-install.log"; fatal "cargo install cargo-deb $CARGO_DEB_VERSION failed"; }
    echo "test-deb: cargo-deb installed in $(($(now) - t)) s"
    rm -rf "$WORK/cargo-deb-build"
fi
[ "$(cargo deb --version 2>/dev/null)" = "cargo-deb $CARGO_DEB_VERSION" ] ||
    fatal "cargo deb --version is '$(cargo deb --version 2>&1)', expected cargo-deb $CARGO_DEB_VERSION (is ~/.cargo/bin on PATH?)"
pass "cargo-deb $CARGO_DEB_VERSION"

# ---------------------------------------------------------------- build
note "build"
cd "$CRATE" || fatal "cannot cd to $CRATE"
t=$(now)
cargo build --release --locked >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log"; fatal "cargo build --release --locked failed"; }
pass "cargo build --release --locked ($(($(now) - t)) s; $PKG $VERSION)"
BIN=$CARGO_TARGET_DIR/release/$PKG

"$HERE/build-assets.sh" "$CARGO_TARGET_DIR" "$ASSETS" >"$WORK/assets.log" 2>&1 ||
    { show "$WORK/assets.log"; fatal "packaging/build-assets.sh failed (the binary must provide 'completions bash|zsh|fish' and 'man --dir DIR')"; }
cat "$WORK/assets.log"
if grep -q PLACEHOLDER "$WORK/assets.log"; then
    [ -z "${CI:-}" ] || fatal "PKG_TEST_ALLOW_MISSING_ASSETS=1 produced PLACEHOLDER man pages and completions; not allowed on CI"
    echo "test-deb: WARNING: the package below holds PLACEHOLDER man pages and completions (PKG_TEST_ALLOW_MISSING_ASSETS=1)"
fi
pass "build-assets.sh: $(find "$ASSETS/man" -name '*.1.gz' | wc -l) man pages, $(find "$ASSETS/completions" -type f | wc -l) completion scripts"
mapfile -t MANPAGES < <(cd "$ASSETS/man" && ls -1 -- *.1.gz)

if "$HERE/build-assets.sh" "$CARGO_TARGET_DIR" "$WORK/assets-again" >/dev/null 2>&1 &&
    diff -r "$ASSETS" "$WORK/assets-again" >"$WORK/assets.diff" 2>&1; then
    pass "build-assets.sh output is reproducible (byte-identical on a second run)"
else
    show "$WORK/assets.diff"
    fail "build-assets.sh output differs between two runs"
fi

mkdir -p "$WORK/out"
t=$(now)
cargo deb --no-build --output "$WORK/out/" >"$WORK/deb.log" 2>&1 || { show "$WORK/deb.log"; fatal "cargo deb --no-build failed"; }
debs=("$WORK"/out/*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || fatal "expected one .deb in $WORK/out, found: ${debs[*]}"
DEB=${debs[0]}
mkdir -p "$CARGO_TARGET_DIR/debian" && cp "$DEB" "$CARGO_TARGET_DIR/debian/"
pass "cargo deb --no-build: ${DEB##*/}, $(stat -c %s "$DEB") bytes ($(($(now) - t)) s; copy in $CARGO_TARGET_DIR/debian/)"

# ---------------------------------------------------------------- control fields
note "control fields (dpkg-deb -f)"
field() { dpkg-deb -f "$DEB" "$1" 2>/dev/null; }
expect_field() { # NAME EXPECTED
    local v
    v=$(field "$1")
    if [ "$v" = "$2" ]; then pass "$1: $v"; else fail "$1 is '$v', expected '$2'"; fi
}
expect_field Package "$PKG"
expect_field Version "$VERSION-1"
expect_field Architecture "$(dpkg --print-architecture)"
expect_field Section utils
expect_field Priority optional
expect_field Recommends "gnome-keyring | keyutils"
depends=$(field Depends)
if printf '%s\n' "$depends" | grep -Eq '(^|, )libc6( |,|$)'; then
    pass "Depends (from \$auto): $depends"
else
    fail "Depends is '$depends', expected the \$auto shared-library dependencies (libc6 at least)"
fi
maint=$(field Maintainer)
if printf '%s\n' "$maint" | grep -Eq '^[^<]+ <[^@> ]+@[^> ]+>$'; then pass "Maintainer: $maint"; else fail "Maintainer is '$maint', expected 'Name <email>'"; fi
desc=$(field Description)
if [ "$(printf '%s\n' "$desc" | head -n1)" != "" ] && [ "$(printf '%s\n' "$desc" | wc -l)" -ge 2 ]; then
    pass "Description has a synopsis and an extended description"
else
    fail "Description lacks a synopsis or an extended description: '$desc'"
fi

# ---------------------------------------------------------------- contents
note "contents (dpkg-deb -c)"
dpkg-deb -c "$DEB" >"$WORK/contents.txt" || fatal "dpkg-deb -c failed"
# Lines: MODE OWNER SIZE DATE TIME ./PATH [-> TARGET]
declare -A expect_type=() expect_mode=()
expect_type[usr/bin/$PKG]=f; expect_mode[usr/bin/$PKG]=-rwxr-xr-x
for h in "${HELPERS[@]}"; do
    expect_type[usr/bin/$h]="l:$PKG"
    expect_type[usr/share/man/man1/$h.1.gz]="l:${HELPER_MAN[$h]}"
done
for m in "${MANPAGES[@]}"; do expect_type[usr/share/man/man1/$m]=f; done
for p in usr/share/bash-completion/completions/$PKG \
         usr/share/zsh/vendor-completions/_$PKG \
         usr/share/fish/vendor_completions.d/$PKG.fish \
         usr/share/doc/$PKG/README.md \
         usr/share/doc/$PKG/changelog.Debian.gz \
         usr/share/doc/$PKG/copyright; do
    expect_type[$p]=f
done
declare -A seen=()
bad_owner=() unexpected=()
while read -r mode owner _size _date _time path rest; do
    path=${path#./}
    case $owner in root/root | 0/0) ;; *) bad_owner+=("$path:$owner") ;; esac
    case $mode in d*) continue ;; esac
    target=""
    [ "${rest:0:3}" = "-> " ] && target=${rest#-> }
    if [ -z "${expect_type[$path]+x}" ]; then unexpected+=("$path"); continue; fi
    seen[$path]=1
    want=${expect_type[$path]}
    case $want in
        f)
            [ "${mode:0:1}" = - ] || { fail "$path is not a regular file ($mode)"; continue; }
            wmode=${expect_mode[$path]:--rw-r--r--}
            if [ "$mode" = "$wmode" ]; then pass "$path ($mode)"; else fail "$path has mode $mode, expected $wmode"; fi
            ;;
        l:*)
            if [ "${mode:0:1}" = l ] && [ "$target" = "${want#l:}" ]; then
                pass "$path -> $target"
            else
                fail "$path is '$mode -> $target', expected a symlink to ${want#l:}"
            fi
            ;;
    esac
done <"$WORK/contents.txt"
if [ ${#bad_owner[@]} = 0 ]; then pass "every entry is owned by root (0/0)"; else fail "entries not owned by root: ${bad_owner[*]}"; fi
for p in "${!expect_type[@]}"; do
    [ -n "${seen[$p]+x}" ] || fail "missing from the package: /$p"
done
if [ ${#unexpected[@]} = 0 ]; then pass "no unexpected files"; else fail "unexpected files in the package: ${unexpected[*]}"; fi
for m in acronis-cred.1.gz acronis-cred-token.1.gz; do
    if [ -n "${seen[usr/share/man/man1/$m]+x}" ]; then pass "man page $m is packaged"; else fail "man page $m is not packaged"; fi
done

# ---------------------------------------------------------------- runtime checks
# Runs the installed programs under ROOT ("" for a real install) with an empty
# environment and a private HOME, so no profile, keychain or variable of the
# caller can answer.
runtime_checks() { # ROOT LABEL
    local root=$1 label=$2 home out err rc ok
    home=$(mktemp -d "$WORK/home.XXXXXX")
    mkdir -p "$home/.config" "$home/.cache" "$home/.local/state"
    run() { # run PROGRAM ARGS... (stdin from caller); sets out, err, rc
        out=$(env -i PATH="$root/usr/bin:/usr/bin:/bin" HOME="$home" LC_ALL=C \
                  XDG_CONFIG_HOME="$home/.config" XDG_CACHE_HOME="$home/.cache" XDG_STATE_HOME="$home/.local/state" \
                  timeout 30 "$root/usr/bin/$1" "${@:2}" 2>"$WORK/stderr")
        rc=$?
        err=$(head -c 2000 "$WORK/stderr")
    }

    run "$PKG" --help </dev/null
    if [ $rc = 0 ] && printf '%s\n' "$out" | grep -q '^Usage: acronis-cred'; then
        pass "$label: acronis-cred --help"
    else
        fail "$label: acronis-cred --help exited $rc: ${out:0:300} ${err}"
    fi

    run "$PKG" --version </dev/null
    # "acronis-cred 0.1.0", or "acronis-cred 0.1.0 (<git revision>)" when built in a checkout
    case $out in
        "$PKG $VERSION" | "$PKG $VERSION ("*")") ok=1 ;;
        *) ok=0 ;;
    esac
    if [ $rc = 0 ] && [ $ok = 1 ]; then pass "$label: acronis-cred --version: $out"; else fail "$label: acronis-cred --version exited $rc, printed '$out' (expected '$PKG $VERSION') $err"; fi

    run git-credential-acronis get < <(printf 'protocol=https\nhost=example.com\n\n')
    if [ $rc = 0 ] && [ -z "$out" ]; then
        pass "$label: git-credential-acronis get for example.com: silent, exit 0"
    else
        fail "$label: git-credential-acronis get for example.com exited $rc, printed '${out:0:300}' (expected nothing, exit 0) $err"
    fi

    run docker-credential-acronis version </dev/null
    if [ $rc = 0 ] && printf '%s\n' "$out" | grep -Eq '[0-9]+\.[0-9]+\.[0-9]+'; then
        pass "$label: docker-credential-acronis version: $out"
    else
        fail "$label: docker-credential-acronis version exited $rc, printed '${out:0:300}' (expected a version) $err"
    fi

    run terraform-credentials-acronis get example.com </dev/null
    if [ $rc = 0 ] && [ "$out" = "{}" ]; then
        pass "$label: terraform-credentials-acronis get example.com: {}"
    else
        fail "$label: terraform-credentials-acronis get example.com exited $rc, printed '${out:0:300}' (expected {}) $err"
    fi

    local mandir=$root/usr/share/man/man1 m bad=0 n=0
    for m in "${MANPAGES[@]}"; do
        n=$((n + 1))
        if ! zcat "$mandir/$m" 2>/dev/null | grep -q '^\.TH '; then bad=1; fail "$label: $mandir/$m: no .TH line after zcat"; continue; fi
        out=$(MANPAGER=cat MANWIDTH=80 LC_ALL=C timeout 30 man -l "$mandir/$m" 2>"$WORK/stderr") && [ -n "$out" ] ||
            { bad=1; fail "$label: man -l $mandir/$m failed: $(head -c 500 "$WORK/stderr")"; continue; }
    done
    [ $bad = 0 ] && pass "$label: all $n man pages decompress and render with man -l"
    bad=0
    for m in "${HELPERS[@]}"; do
        out=$(MANPAGER=cat MANWIDTH=80 LC_ALL=C timeout 30 man -l "$mandir/$m.1.gz" 2>/dev/null)
        printf '%s\n' "$out" | grep -q "acronis-cred" || { bad=1; fail "$label: man -l $mandir/$m.1.gz (link to ${HELPER_MAN[$m]}) shows nothing"; }
    done
    [ $bad = 0 ] && pass "$label: the helpers' man page links render (${HELPERS[*]})"
    out=$(MANPAGER=cat MANWIDTH=80 LC_ALL=C man -l "$mandir/$PKG.1.gz" 2>/dev/null)
    if printf '%s\n' "$out" | grep -q 'acronis-cred' && printf '%s\n' "$out" | grep -q 'token'; then
        pass "$label: man -l acronis-cred.1.gz names the program and its token command"
    else
        fail "$label: man -l acronis-cred.1.gz does not mention acronis-cred and token"
    fi

    local bashc=$root/usr/share/bash-completion/completions/$PKG
    out=$(env -i PATH=/usr/bin:/bin HOME="$home" bash --norc --noprofile -c 'source "$1" && complete -p acronis-cred' _ "$bashc" 2>&1)
    if [ $? = 0 ] && printf '%s\n' "$out" | grep -q 'acronis-cred$'; then
        pass "$label: bash completion registers: $out"
    else
        fail "$label: bash -c 'source $bashc; complete -p acronis-cred' failed: ${out:0:300}"
    fi

    # zsh and fish: only where installed. For a real install, with the
    # shells' own default search paths (the Debian locations are the test).
    local zdir=$root/usr/share/zsh/vendor-completions
    if command -v zsh >/dev/null; then
        if [ -z "$root" ]; then
            out=$(env -i PATH=/usr/bin:/bin HOME="$home" zsh -f -c 'autoload -U compinit && compinit -u -d "$HOME/.zcompdump" && print -r -- "${_comps[acronis-cred]}"' 2>&1)
        else
            out=$(env -i PATH=/usr/bin:/bin HOME="$home" ZDIR="$zdir" zsh -f -c 'fpath=("$ZDIR" $fpath) && autoload -U compinit && compinit -u -d "$HOME/.zcompdump" && print -r -- "${_comps[acronis-cred]}"' 2>&1)
        fi
        if [ "$out" = "_acronis-cred" ]; then pass "$label: zsh compinit finds _acronis-cred"; else fail "$label: zsh compinit does not find _acronis-cred: ${out:0:300}"; fi
    else
        skip "$label: zsh not installed: zsh completion not loaded"
    fi
    # fish autoloads a command's completions only when the command is on PATH,
    # and its search path comes from its own config.fish (so no --no-config).
    local fdir=$root/usr/share/fish/vendor_completions.d
    if command -v fish >/dev/null; then
        if [ -z "$root" ]; then
            out=$(cd "$home" && env -i PATH=/usr/bin:/bin HOME="$home" fish -c 'complete -C "acronis-cred "' 2>&1)
        else
            out=$(cd "$home" && env -i PATH="$root/usr/bin:/usr/bin:/bin" HOME="$home" FDIR="$fdir" fish -c 'set -p fish_complete_path $FDIR; complete -C "acronis-cred "' 2>&1)
        fi
        if printf '%s\n' "$out" | grep -q '^token'; then pass "$label: fish completes 'acronis-cred ' with token"; else fail "$label: fish does not complete 'acronis-cred ' with token: ${out:0:300}"; fi
    else
        skip "$label: fish not installed: fish completion not loaded"
    fi

    if head -n1 "$root/usr/share/doc/$PKG/copyright" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$'; then
        pass "$label: /usr/share/doc/$PKG/copyright is DEP-5"
    else
        fail "$label: /usr/share/doc/$PKG/copyright is not DEP-5"
    fi
    if cmp -s "$root/usr/share/doc/$PKG/README.md" "$CRATE/README.md"; then
        pass "$label: /usr/share/doc/$PKG/README.md is the README"
    else
        fail "$label: /usr/share/doc/$PKG/README.md differs from README.md"
    fi
}

note "installed with dpkg -x into a temporary root"
ROOT=$WORK/root
dpkg -x "$DEB" "$ROOT" || fatal "dpkg -x failed"
pass "dpkg -x ${DEB##*/}"
runtime_checks "$ROOT" "dpkg -x"

note "installed with dpkg -i"
real=${PKG_TEST_DPKG_INSTALL:-}
[ -n "$real" ] || { [ -n "${CI:-}" ] && real=1 || real=0; }
if [ "$real" != 1 ]; then
    skip "dpkg -i (only as root on CI, or with PKG_TEST_DPKG_INSTALL=1)"
elif [ "$(id -u)" != 0 ]; then
    skip "dpkg -i: not root"
elif [ "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)" = installed ]; then
    skip "dpkg -i: $PKG is already installed on this machine; not replacing it"
elif [ -e /usr/bin/$PKG ]; then
    skip "dpkg -i: /usr/bin/$PKG exists and is not from the package; not overwriting it"
else
    if dpkg -i "$DEB" >"$WORK/dpkg-i.log" 2>&1; then
        real_installed=1
        pass "dpkg -i ${DEB##*/}"
        dpkg -L "$PKG" >"$WORK/dpkg-L.txt" 2>/dev/null
        missing=()
        for p in "${!expect_type[@]}"; do grep -qx "/$p" "$WORK/dpkg-L.txt" || missing+=("/$p"); done
        if [ ${#missing[@]} = 0 ]; then pass "dpkg -L lists every expected path"; else fail "dpkg -L lacks: ${missing[*]}"; fi
        for h in "${HELPERS[@]}"; do
            [ "$(readlink "/usr/bin/$h")" = "$PKG" ] || fail "/usr/bin/$h is not a symlink to $PKG after dpkg -i"
        done
        runtime_checks "" "dpkg -i"
        if dpkg -r "$PKG" >"$WORK/dpkg-r.log" 2>&1; then
            real_installed=0
            left=()
            for p in "${!expect_type[@]}"; do [ -e "/$p" ] || [ -L "/$p" ] && left+=("/$p"); done
            if [ ${#left[@]} = 0 ]; then pass "dpkg -r removes every file"; else fail "left after dpkg -r: ${left[*]}"; fi
        else
            show "$WORK/dpkg-r.log"
            fail "dpkg -r $PKG failed"
        fi
    else
        show "$WORK/dpkg-i.log"
        fail "dpkg -i ${DEB##*/} failed"
    fi
fi

echo
echo "test-deb: package ${DEB##*/}, $(stat -c %s "$DEB") bytes"
summary
[ $failed = 0 ]
