#!/usr/bin/env bash
# Generate the man pages and shell completions that every package ships,
# by running the release binary itself.
#
#   packaging/build-assets.sh TARGET_DIR OUT_DIR
#
# TARGET_DIR is Cargo's target directory (the binary is TARGET_DIR/release/acronis-cred);
# OUT_DIR receives:
#
#   OUT_DIR/man/acronis-cred.1.gz, OUT_DIR/man/acronis-cred-<subcommand>.1.gz   (gzip -9n)
#   OUT_DIR/completions/acronis-cred.bash
#   OUT_DIR/completions/_acronis-cred              (zsh)
#   OUT_DIR/completions/acronis-cred.fish
#
# The cargo-deb metadata reads them from target/assets (relative to the crate
# root), so for `cargo deb` OUT_DIR must be <crate>/target/assets.
#
# The output is deterministic: the binary runs with an empty environment
# (clap would otherwise print the values of ACRONIS_* variables in the help
# text), LC_ALL=C, and gzip -n drops names and timestamps. The files' mtime is
# SOURCE_DATE_EPOCH (1970-01-01 when unset).
#
# The binary must provide `completions bash|zsh|fish` and `man --dir DIR`.
# If it does not, this script fails. Only with PKG_TEST_ALLOW_MISSING_ASSETS=1
# (a packaging trial against a binary that predates those subcommands) does it
# write crude PLACEHOLDER pages and completions from --help instead, with a
# loud warning; such output must never be released.
set -euo pipefail

die() { printf 'build-assets: error: %s\n' "$*" >&2; exit 1; }
warn() { printf 'build-assets: WARNING: %s\n' "$*" >&2; }

[ $# -eq 2 ] || die "usage: $0 TARGET_DIR OUT_DIR"
TARGET_DIR=$1
OUT_DIR=$2
BIN=$TARGET_DIR/release/acronis-cred
[ -x "$BIN" ] || die "no executable at $BIN (run: cargo build --release --locked)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/acronis-cred

# Whatever an earlier run left is stale now: if this run fails, nothing is left
# for a packager to pick up by mistake.
rm -rf "$OUT_DIR/man" "$OUT_DIR/completions"

export LC_ALL=C TZ=UTC
umask 022
: "${SOURCE_DATE_EPOCH:=0}"

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/home"

# The binary with nothing from the caller's environment.
run_bin() {
    env -i PATH=/usr/bin:/bin HOME="$SCRATCH/home" LC_ALL=C TZ=UTC "$BIN" "$@"
}

# Subcommands listed in --help ("Commands:" section), without `help`.
subcommands() {
    run_bin --help | awk '
        /^Commands:/ { on = 1; next }
        on && /^[^ ]/ { on = 0 }
        on && /^  [a-z][a-z0-9-]* / { if ($1 != "help") print $1 }
    '
}

mkdir -p "$SCRATCH/man" "$SCRATCH/completions"

# ---------------------------------------------------------------- real path
have_completions=0
have_man=0
if run_bin completions bash >"$SCRATCH/probe.bash" 2>"$SCRATCH/probe.err" && [ -s "$SCRATCH/probe.bash" ]; then
    have_completions=1
fi
if run_bin man --dir "$SCRATCH/man" >/dev/null 2>>"$SCRATCH/probe.err" && [ -s "$SCRATCH/man/acronis-cred.1" ]; then
    have_man=1
fi

if [ $have_completions = 1 ]; then
    run_bin completions bash >"$SCRATCH/completions/acronis-cred.bash"
    run_bin completions zsh >"$SCRATCH/completions/_acronis-cred"
    run_bin completions fish >"$SCRATCH/completions/acronis-cred.fish"
fi

# ---------------------------------------------------------------- fallback
if [ $have_completions = 0 ] || [ $have_man = 0 ]; then
    missing=""
    [ $have_completions = 1 ] || missing="$missing 'acronis-cred completions bash|zsh|fish'"
    [ $have_man = 1 ] || missing="$missing 'acronis-cred man --dir DIR'"
    if [ "${PKG_TEST_ALLOW_MISSING_ASSETS:-0}" != 1 ]; then
        sed 's/^/  /' "$SCRATCH/probe.err" >&2 || true
        die "the binary $BIN lacks$missing; it must generate the man pages and completions (set PKG_TEST_ALLOW_MISSING_ASSETS=1 only for a packaging trial with placeholders)"
    fi
    warn "the binary lacks$missing"
    warn "PKG_TEST_ALLOW_MISSING_ASSETS=1: writing PLACEHOLDER assets from --help. NOT FOR RELEASE."
    mapfile -t subs < <(subcommands)
    [ ${#subs[@]} -gt 0 ] || die "could not read the subcommands from '$BIN --help'"

    if [ $have_man = 0 ]; then
        rm -f "$SCRATCH"/man/*
        version=$(run_bin --version | awk '{print $2}')
        # roff: escape backslashes, and protect lines starting with . or '
        roff_body() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
        placeholder_page() { # NAME SUMMARY ARGS...
            local name=$1 summary=$2
            shift 2
            {
                printf '.\\" PLACEHOLDER written by packaging/build-assets.sh (PKG_TEST_ALLOW_MISSING_ASSETS=1); not for release\n'
                printf '.TH %s 1 "" "%s %s"\n' "$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')" "acronis-cred" "$version"
                printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
                printf '.SH DESCRIPTION\n.nf\n'
                run_bin "$@" --help | roff_body
                printf '.fi\n'
            } >"$SCRATCH/man/$name.1"
        }
        placeholder_page acronis-cred "Credential helper for the Acronis Cyber Protect Cloud API"
        for s in "${subs[@]}"; do
            placeholder_page "acronis-cred-$s" "acronis-cred $s" "$s"
        done
    fi

    if [ $have_completions = 0 ]; then
        words="${subs[*]} help"
        cat >"$SCRATCH/completions/acronis-cred.bash" <<EOF
# PLACEHOLDER written by packaging/build-assets.sh (PKG_TEST_ALLOW_MISSING_ASSETS=1); not for release
_acronis_cred() {
    local cur=\${COMP_WORDS[COMP_CWORD]}
    if [ "\$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=(\$(compgen -W "$words --help --version" -- "\$cur"))
    fi
}
complete -F _acronis_cred -o bashdefault -o default acronis-cred
EOF
        cat >"$SCRATCH/completions/_acronis-cred" <<EOF
#compdef acronis-cred
# PLACEHOLDER written by packaging/build-assets.sh (PKG_TEST_ALLOW_MISSING_ASSETS=1); not for release
_arguments '1: :($words)' '*::arg:_files'
EOF
        {
            echo "# PLACEHOLDER written by packaging/build-assets.sh (PKG_TEST_ALLOW_MISSING_ASSETS=1); not for release"
            for s in "${subs[@]}" help; do
                echo "complete -c acronis-cred -n __fish_use_subcommand -f -a $s"
            done
        } >"$SCRATCH/completions/acronis-cred.fish"
    fi
fi

# ---------------------------------------------------------------- checks
# Never package nothing: every file must be there and look like what it is.
[ -s "$SCRATCH/man/acronis-cred.1" ] || die "no acronis-cred.1 was generated"
for f in "$SCRATCH"/man/*; do
    base=${f##*/}
    case $base in
        acronis-cred.1 | acronis-cred-*.1) ;;
        *) die "unexpected file from 'man --dir': $base (expected acronis-cred.1 and acronis-cred-<subcommand>.1)" ;;
    esac
    grep -q '^\.TH ' "$f" || die "$base is not a man page (no .TH line)"
done
for s in $(subcommands); do
    [ -s "$SCRATCH/man/acronis-cred-$s.1" ] || die "no man page acronis-cred-$s.1 for the subcommand '$s' listed in --help"
done
for f in acronis-cred.bash _acronis-cred acronis-cred.fish; do
    [ -s "$SCRATCH/completions/$f" ] || die "empty completion script $f"
done
bash -n "$SCRATCH/completions/acronis-cred.bash" || die "the bash completion script does not parse"
grep -q 'acronis-cred' "$SCRATCH/completions/acronis-cred.bash" || die "the bash completion script does not mention acronis-cred"
head -n1 "$SCRATCH/completions/_acronis-cred" | grep -q '^#compdef acronis-cred' || die "the zsh completion script does not start with '#compdef acronis-cred'"
grep -q 'complete -c acronis-cred' "$SCRATCH/completions/acronis-cred.fish" || die "the fish completion script has no 'complete -c acronis-cred'"

# ---------------------------------------------------------------- install into OUT_DIR
mkdir -p "$OUT_DIR/man" "$OUT_DIR/completions"
for f in "$SCRATCH"/man/*.1; do
    gzip -9n <"$f" >"$OUT_DIR/man/${f##*/}.gz"
done
cp "$SCRATCH"/completions/* "$OUT_DIR/completions/"
chmod 0644 "$OUT_DIR"/man/* "$OUT_DIR"/completions/*
touch -h -d "@$SOURCE_DATE_EPOCH" "$OUT_DIR"/man/* "$OUT_DIR"/completions/*

n_man=$(find "$OUT_DIR/man" -name '*.1.gz' | wc -l)
printf 'build-assets: %s man pages and 3 completion scripts in %s%s\n' "$n_man" "$OUT_DIR" \
    "$([ "$have_completions$have_man" = 11 ] || echo ' (PLACEHOLDERS: PKG_TEST_ALLOW_MISSING_ASSETS=1)')"
