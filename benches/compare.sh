#!/usr/bin/env bash
# benches/compare.sh - how fast and how small acronis-cred is next to the tools
# it stands in for, measured in one run against one private Secret Service and
# one loopback fake datacenter.
#
#   cached path   `acronis-cred token` with a valid cached token: kernel-keyring
#                 tier and store tier (ACRONIS_CRED_TOKEN_CACHE=store), for a
#                 `--store keyutils` and a `--store secret-service` profile.
#                 Floor: `keyctl pipe <the cached token's key>`.
#   secret reads  peers doing one read from the same Secret Service:
#                 secret-tool lookup, docker-credential-secretservice get,
#                 Python keyring get (SecretService backend), git's
#                 git-credential-libsecret (built from Debian's git contrib).
#   cold path     `acronis-cred token --refresh` (one exchange) versus
#                 secret-tool lookup + curl doing the same POST.
#   burst         32 and 200 concurrent cold `token` calls (empty cache, all
#                 released at once): time until all are done, exchanges counted.
#   memory, size  peak RSS of each command (GNU time), release binary size.
#
# It prints a markdown table of medians and ratios and writes it, with a
# description of the machine and the version of every tool, to
# benches/RESULTS.md (or --out FILE).
#
# Usage: benches/compare.sh [--runs N] [--warmup N] [--bursts "32 200"]
#                           [--burst-repeats N] [--profile] [--no-build] [--out FILE]
#   --profile   also profile the cached and cold paths of the release binary
#               (valgrind callgrind, perf stat, strace) and add a section.
#   --no-build  use the binaries already in $CARGO_TARGET_DIR/release.
#
# Environment: CARGO_TARGET_DIR (default <repo>/target); BENCH_CACHE, a
# directory kept between runs for the Python venv and the built git helper
# (default ${TMPDIR:-/tmp}/acronis-cred-bench-cache); BENCH_KEEP=1 keeps the
# work directory (hyperfine JSON, GNU time output, profiles) for inspection.
#
# Needs Debian packages; as root it installs the missing ones, otherwise it
# names them. Required: hyperfine keyutils libsecret-tools curl dbus-daemon
# dbus-bin gnome-keyring time python3 binutils. Optional peers (skipped with a
# note when they cannot be had): python3-venv (+ pip for `keyring`),
# golang-docker-credential-helpers, git libsecret-1-dev make gcc pkg-config.
# With --profile: valgrind strace linux-perf.
#
# Nothing outside its temporary directories is touched, except the kernel
# keyring of the user (keys named after two profiles unique to this run,
# removed at exit with `acronis-cred remove`).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=50
WARMUP=3
BURSTS="32 200"
BURST_REPEATS=5
RSS_REPEATS=5
PROFILE=0
BUILD=1
OUT=$ROOT/benches/RESULTS.md

usage() { sed -n '/^# Usage:/,/^# Environment/p' "$0" | sed 's/^# \{0,1\}//' | sed '$d'; }
while (($#)); do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --bursts) BURSTS=$2; shift 2 ;;
        --burst-repeats) BURST_REPEATS=$2; shift 2 ;;
        --profile) PROFILE=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --out) OUT=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "compare.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf '\n== %s\n' "$*" >&2; }
note() { printf 'compare.sh: %s\n' "$*" >&2; }
die() { printf 'compare.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- packages
# command-or-test  package
REQUIRED=(
    "hyperfine hyperfine" "keyctl keyutils" "secret-tool libsecret-tools" "curl curl"
    "dbus-daemon dbus-daemon" "dbus-send dbus-bin" "gnome-keyring-daemon gnome-keyring"
    "/usr/bin/time time" "/usr/bin/python3 python3" "strip binutils"
)
OPTIONAL=(
    "py:venv python3-venv" "docker-credential-secretservice golang-docker-credential-helpers"
    "file:/usr/share/doc/git/contrib/credential/libsecret/git-credential-libsecret.c git"
    "pc:libsecret-1 libsecret-1-dev" "make make" "gcc gcc" "pkg-config pkg-config"
)
PROFILING=("valgrind valgrind" "strace strace" "perf linux-perf")

have() {
    case "$1" in
        py:venv) /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ;;
        file:*) [[ -f "${1#file:}" ]] ;;
        pc:*) command -v pkg-config >/dev/null && pkg-config --exists "${1#pc:}" ;;
        /*) [[ -x "$1" ]] ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

missing_of() {  # missing_of ENTRY... -> package names of the missing ones
    local entry out=()
    for entry in "$@"; do have "${entry%% *}" || out+=("${entry##* }"); done
    echo "${out[@]}"
}

APT_UPDATED=0
apt_install() {  # apt_install PKG...: true if all got installed
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || return 1
    export DEBIAN_FRONTEND=noninteractive
    if [[ $APT_UPDATED == 0 ]]; then apt-get update -qq >&2 || true; APT_UPDATED=1; fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

read -ra need <<<"$(missing_of "${REQUIRED[@]}")"
((PROFILE)) && read -ra more <<<"$(missing_of "${PROFILING[@]}")" && need+=("${more[@]}")
if ((${#need[@]})); then
    note "installing ${need[*]}"
    apt_install "${need[@]}" || die "missing packages: ${need[*]} (install them with: sudo apt-get install ${need[*]})"
fi
for entry in "${OPTIONAL[@]}"; do
    have "${entry%% *}" && continue
    pkg=${entry##* }
    if apt_install "$pkg" 2>/dev/null; then note "installed $pkg"; else note "optional package $pkg not available; the peer that needs it will be skipped"; fi
done
command -v cargo >/dev/null || ((BUILD == 0)) || die "cargo not found (install Rust 1.89+, see README.md)"
PY=/usr/bin/python3

# ------------------------------------------------------------------- build
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if ((BUILD)); then
    say "building (release profile) in $TARGET"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet --bin acronis-cred --example fake-datacenter)
fi
RUSTC_VERSION=$(cd "$ROOT" && rustc -V 2>/dev/null || echo '?')
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
BIN=$TARGET/release/acronis-cred
FAKE=$TARGET/release/examples/fake-datacenter
[[ -x $BIN && -x $FAKE ]] || die "$BIN or $FAKE missing (run without --no-build)"

# -------------------------------------------------------------- work dirs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/acronis-cred-bench.XXXXXX")
# Runtime dir (lock files, the bus socket) and the curl config holding the
# secret go to a tmpfs, like /run/user/UID; never to disk.
if [[ -d /dev/shm && -w /dev/shm ]]; then RUN=$(mktemp -d /dev/shm/acronis-cred-bench.XXXXXX); else RUN=$WORK/run; mkdir -p "$RUN"; fi
chmod 700 "$WORK" "$RUN"
CACHE=${BENCH_CACHE:-${TMPDIR:-/tmp}/acronis-cred-bench-cache}
mkdir -p "$CACHE" "$WORK/json" "$WORK/rss" "$WORK/home/.config" "$WORK/home/.local/share" "$WORK/home/.cache" "$WORK/config"
ROWS=$WORK/rows.tsv       # id, group, label, mode, command (as benchmarked)
: >"$ROWS"
FACTS=$WORK/facts.tsv     # key, value (versions, sizes, bursts, skips)
: >"$FACTS"
fact() { printf '%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >>"$FACTS"; }

DBUS_PID='' GKD_PID='' FAKE_PID='' P_KU='' P_SS=''
cleanup() {
    set +e
    if [[ -n $P_KU || -n $P_SS ]]; then
        for p in $P_KU $P_SS; do ACRONIS_PROFILE=$p "$BIN" -q remove >/dev/null 2>&1; done
    fi
    # Only the processes this script started, by PID.
    [[ -n $FAKE_PID ]] && kill -TERM "$FAKE_PID" 2>/dev/null
    [[ -n $GKD_PID ]] && kill -TERM "$GKD_PID" 2>/dev/null
    [[ -n $DBUS_PID ]] && kill -TERM "$DBUS_PID" 2>/dev/null
    wait 2>/dev/null
    if [[ -n ${BENCH_KEEP:-} ]]; then note "kept $WORK and $RUN (BENCH_KEEP)"; else rm -rf "$WORK" "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Everything below runs in this private environment.
unset DISPLAY WAYLAND_DISPLAY GNOME_KEYRING_CONTROL XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME \
    ACRONIS_PROFILE ACRONIS_CLIENT_ID ACRONIS_CLIENT_SECRET ACRONIS_DATACENTER_URL \
    ACRONIS_CRED_CONFIG ACRONIS_CRED_STORE ACRONIS_CRED_TOKEN_CACHE PYTHON_KEYRING_BACKEND
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/config XDG_RUNTIME_DIR=$RUN LC_ALL=C

# --------------------------------------------------- private Secret Service
# A session bus of our own and gnome-keyring-daemon (secrets component only)
# with an unlocked 'login' keyring under $HOME; the caller's keyrings are
# never touched. (Same recipe as the test suite's secret_service support.)
say "starting a private Secret Service"
bus_out=$(dbus-daemon --session --address="unix:path=$RUN/bus" --fork --print-address=1 --print-pid=1 2>"$WORK/dbus.log") \
    || die "dbus-daemon failed: $(cat "$WORK/dbus.log")"
DBUS_PID=$(sed -n 2p <<<"$bus_out")
[[ $DBUS_PID =~ ^[0-9]+$ ]] || die "unexpected dbus-daemon output: $bus_out"
# Without the ',guid=...' part: zbus rejects a guid it cannot match.
export DBUS_SESSION_BUS_ADDRESS="unix:path=$RUN/bus"
printf '%s' "bench-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >"$WORK/gkd.log" 2>&1 \
    || die "gnome-keyring-daemon failed: $(cat "$WORK/gkd.log")"
bus() { dbus-send --session --print-reply=literal "$@"; }
for _ in $(seq 100); do
    GKD_PID=$(bus --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
        string:org.freedesktop.secrets 2>/dev/null | awk '{print $NF}') || true
    [[ $GKD_PID =~ ^[0-9]+$ ]] && break
    GKD_PID=
    sleep 0.1
done
[[ -n $GKD_PID ]] || die "org.freedesktop.secrets never appeared on the private bus: $(cat "$WORK/gkd.log")"
[[ $(cat "/proc/$GKD_PID/comm" 2>/dev/null) == gnome-keyring-d* ]] || die "pid $GKD_PID owning org.freedesktop.secrets is not gnome-keyring-daemon"
collection=$(bus --dest=org.freedesktop.secrets /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default | tr -d ' ')
[[ $collection == /org/freedesktop/secrets/collection/* ]] || die "no default collection (alias default -> '$collection')"
locked=$(bus --dest=org.freedesktop.secrets "$collection" org.freedesktop.DBus.Properties.Get \
    string:org.freedesktop.Secret.Collection string:Locked | awk '{print $NF}')
[[ $locked == false ]] || die "the default collection $collection is locked"
note "dbus-daemon $DBUS_PID, gnome-keyring-daemon $GKD_PID, $collection unlocked"

# ------------------------------------------------------- fake datacenter
say "starting the fake datacenter"
CLIENT_ID=bench-client-$$
SECRET=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
printf '%s %s\n' "$CLIENT_ID" "$SECRET" | "$FAKE" --url-file "$WORK/dc.url" >/dev/null 2>"$WORK/dc.log" &
FAKE_PID=$!
for _ in $(seq 100); do [[ -s $WORK/dc.url ]] && break; sleep 0.05; done
[[ -s $WORK/dc.url ]] || die "the fake datacenter did not start: $(cat "$WORK/dc.log")"
DC=$(cat "$WORK/dc.url")
TOKEN_URL=$DC/api/2/idp/token
note "fake datacenter $DC (pid $FAKE_PID)"

# ----------------------------------------------------------- profiles
say "registering two profiles"
P_KU=bench-ku-$$-$RANDOM
P_SS=bench-ss-$$-$RANDOM
printf '%s\n' "$SECRET" | ACRONIS_PROFILE=$P_KU "$BIN" -q --store keyutils register --datacenter "$DC" --client-id "$CLIENT_ID" --secret-stdin
printf '%s\n' "$SECRET" | ACRONIS_PROFILE=$P_SS "$BIN" -q --store secret-service register --datacenter "$DC" --client-id "$CLIENT_ID" --secret-stdin
note "profiles $P_KU (keyutils) and $P_SS (secret-service)"

# Prime all four caches (kernel and store tier of both profiles) and check them.
for p in $P_KU $P_SS; do
    for tier in kernel store; do
        t1=$(ACRONIS_PROFILE=$p ACRONIS_CRED_TOKEN_CACHE=$tier "$BIN" token)
        t2=$(ACRONIS_PROFILE=$p ACRONIS_CRED_TOKEN_CACHE=$tier "$BIN" -v token 2>"$WORK/check.err")
        [[ -n $t1 && $t1 == "$t2" ]] && grep -q "cached token ($tier cache)" "$WORK/check.err" \
            || die "profile $p: the $tier cache does not serve the cached token: $(cat "$WORK/check.err")"
    done
done
KEY_KU=$(keyctl search @u user "acronis-cred:token:$P_KU") || die "no kernel keyring key acronis-cred:token:$P_KU"
[[ $(keyctl pipe "$KEY_KU") == *"$(ACRONIS_PROFILE=$P_KU "$BIN" token)"* ]] || die "keyctl pipe $KEY_KU does not hold the cached token"

# ------------------------------------------------------------------ peers
say "setting up the peers"
# A file holding only what a peer reads on stdin (no secret in it).
printf '%s\n' "$DC" >"$WORK/docker-get.in"
printf 'protocol=https\nhost=bench-%s.example\nusername=%s\n\n' "$$" "$CLIENT_ID" >"$WORK/git-get.in"
# curl's config with the credentials, on tmpfs, 0600: the secret never
# appears in curl's argv (readable by every user through /proc).
(umask 077; printf 'user = "%s:%s"\n' "$CLIENT_ID" "$SECRET" >"$RUN/curl-basic.cfg")
[[ $(secret-tool lookup service acronis-cred username "$P_SS") == "$SECRET" ]] \
    || die "secret-tool does not find acronis-cred's entry (service acronis-cred, username $P_SS)"

DOCKER_OK=0
if command -v docker-credential-secretservice >/dev/null; then
    printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$DC" "$CLIENT_ID" "$SECRET" \
        | docker-credential-secretservice store >"$WORK/docker.log" 2>&1 || true
    if docker-credential-secretservice get <"$WORK/docker-get.in" 2>>"$WORK/docker.log" | grep -q "\"Secret\":\"$SECRET\""; then
        DOCKER_OK=1
    else
        note "docker-credential-secretservice does not read back its entry; skipped ($(head -c 300 "$WORK/docker.log"))"
        fact skip "docker-credential-secretservice: store/get round trip failed"
    fi
else
    fact skip "docker-credential-secretservice: package golang-docker-credential-helpers not installed"
fi

PYKR_OK=0
VENV=$CACHE/venv
if have py:venv; then
    if ! "$VENV/bin/python" -c 'import keyring, secretstorage, jeepney' >/dev/null 2>&1; then
        rm -rf "$VENV"
        { $PY -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check keyring; } >"$WORK/pip.log" 2>&1 \
            || note "pip install keyring failed: $(tail -3 "$WORK/pip.log")"
    fi
    export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
    # The SecretService backend searches by the same 'service' and 'username'
    # attributes as acronis-cred: it reads acronis-cred's own entry.
    if [[ -x $VENV/bin/keyring && $("$VENV/bin/keyring" get acronis-cred "$P_SS" 2>"$WORK/pykr.log") == "$SECRET" ]]; then
        PYKR_OK=1
    else
        note "Python keyring does not read the entry; skipped ($(head -c 300 "$WORK/pykr.log"))"
        fact skip "Python keyring: could not install or read the entry"
    fi
else
    fact skip "Python keyring: python3-venv not installed"
fi

GIT_OK=0
GITSRC=/usr/share/doc/git/contrib/credential/libsecret
GITHELPER=$CACHE/git-credential-libsecret
if [[ -f $GITSRC/git-credential-libsecret.c ]]; then
    if [[ ! -x $GITHELPER || $GITSRC/git-credential-libsecret.c -nt $GITHELPER ]]; then
        rm -rf "$CACHE/git-libsecret-build"
        mkdir -p "$CACHE/git-libsecret-build"
        cp "$GITSRC/git-credential-libsecret.c" "$GITSRC/Makefile" "$CACHE/git-libsecret-build/"
        if make -C "$CACHE/git-libsecret-build" >"$WORK/git-build.log" 2>&1; then
            cp "$CACHE/git-libsecret-build/git-credential-libsecret" "$GITHELPER"
        else
            note "git-credential-libsecret does not build from $GITSRC; skipped: $(tail -3 "$WORK/git-build.log")"
            fact skip "git-credential-libsecret: does not build from Debian's git contrib ($(tail -1 "$WORK/git-build.log"))"
        fi
    fi
    if [[ -x $GITHELPER ]]; then
        { head -n 3 "$WORK/git-get.in"; printf 'password=%s\n\n' "$SECRET"; } | "$GITHELPER" store 2>"$WORK/git.log" || true
        if "$GITHELPER" get <"$WORK/git-get.in" 2>>"$WORK/git.log" | grep -qx "password=$SECRET"; then
            GIT_OK=1
        else
            note "git-credential-libsecret does not read back its entry; skipped ($(head -c 300 "$WORK/git.log"))"
            fact skip "git-credential-libsecret: store/get round trip failed"
        fi
    fi
else
    fact skip "git-credential-libsecret: $GITSRC not found (Debian package git)"
fi

# The curl POST must be the one acronis-cred makes, and must succeed.
curl -sS --fail -K "$RUN/curl-basic.cfg" -d grant_type=client_credentials "$TOKEN_URL" | grep -q access_token \
    || die "curl's token request to the fake datacenter failed"

# ------------------------------------------------------------- benchmarks
# row ID GROUP LABEL MODE ENV COMMAND: benchmark COMMAND with hyperfine
# (MODE direct: -N, no shell; MODE shell: through sh, whose start-up hyperfine
# measures and subtracts), with ENV (space separated VAR=value) added.
row() {
    local id=$1 group=$2 label=$3 mode=$4 envs=$5 cmd=$6
    local -a shellopt=()
    [[ $mode == direct ]] && shellopt=(-N)
    say "$label"
    # shellcheck disable=SC2086
    env $envs hyperfine "${shellopt[@]}" --warmup "$WARMUP" --runs "$RUNS" --style basic \
        --command-name "$label" --export-json "$WORK/json/$id.json" "$cmd" >&2
    # Peak RSS: GNU time's "Maximum resident set size" (getrusage ru_maxrss of
    # the command, or of the largest process of a shell pipeline).
    local i
    for i in $(seq "$RSS_REPEATS"); do
        if [[ $mode == direct ]]; then
            # shellcheck disable=SC2086
            env $envs /usr/bin/time -v -o "$WORK/rss/$id.$i" $cmd >/dev/null 2>&1 </dev/null
        else
            env $envs /usr/bin/time -v -o "$WORK/rss/$id.$i" sh -c "$cmd" >/dev/null 2>&1 </dev/null
        fi
    done
    printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$group" "$label" "$mode" "${envs:+$envs }$cmd" >>"$ROWS"
}

K=ACRONIS_CRED_TOKEN_CACHE
row keyctl cached 'keyctl pipe (floor)' direct "" "keyctl pipe $KEY_KU"
row tok_ku_kernel cached 'acronis-cred token, keyutils profile, kernel tier' direct "ACRONIS_PROFILE=$P_KU" "$BIN token"
row tok_ss_kernel cached 'acronis-cred token, secret-service profile, kernel tier' direct "ACRONIS_PROFILE=$P_SS" "$BIN token"
row tok_ku_store cached 'acronis-cred token, keyutils profile, store tier' direct "ACRONIS_PROFILE=$P_KU $K=store" "$BIN token"
row tok_ss_store cached 'acronis-cred token, secret-service profile, store tier' direct "ACRONIS_PROFILE=$P_SS $K=store" "$BIN token"

row secret_tool peer 'secret-tool lookup' direct "" "secret-tool lookup service acronis-cred username $P_SS"
((DOCKER_OK)) && row docker peer 'docker-credential-secretservice get' shell "" "docker-credential-secretservice get < $WORK/docker-get.in"
((PYKR_OK)) && row pykeyring peer 'Python keyring get (SecretService)' direct "PYTHON_KEYRING_BACKEND=$PYTHON_KEYRING_BACKEND" "$VENV/bin/keyring get acronis-cred $P_SS"
((GIT_OK)) && row git_libsecret peer 'git-credential-libsecret get' shell "" "$GITHELPER get < $WORK/git-get.in"

row ref_ku cold 'acronis-cred token --refresh, keyutils profile' direct "ACRONIS_PROFILE=$P_KU" "$BIN token --refresh"
row ref_ss cold 'acronis-cred token --refresh, secret-service profile' direct "ACRONIS_PROFILE=$P_SS" "$BIN token --refresh"
row curl cold 'curl POST (credentials from a tmpfs -K file)' direct "" "curl -sS --fail -K $RUN/curl-basic.cfg -d grant_type=client_credentials $TOKEN_URL"
# The same two steps as one shell pipeline, the secret going from secret-tool
# to curl through a pipe (curl -K -), never argv or a file.
row pipeline cold 'secret-tool lookup | curl -K - (one pipeline)' shell "" \
    "{ printf 'user = \"%s:' $CLIENT_ID; secret-tool lookup service acronis-cred username $P_SS; printf '\"\\n'; } | curl -sS --fail -K - -d grant_type=client_credentials $TOKEN_URL"

# ------------------------------------------------------------------ burst
# N processes are forked, each blocked reading a pipe; closing the write end
# releases them all at once into exec(acronis-cred -v token). Timed from the
# release to the last exit. Exchanges are counted twice: each process's -v
# line ("new token from ..." = it exchanged), and the distinct tokens printed
# (the fake datacenter issues a unique token per exchange).
cat >"$WORK/burst.py" <<'EOF'
import json, os, sys, time
n, outdir, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
r, w = os.pipe()
pids = []
for i in range(n):
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            for fd, name, flags in ((0, "/dev/null", os.O_RDONLY),
                                    (1, f"{outdir}/out.{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                    (2, f"{outdir}/err.{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
                f = os.open(name, flags, 0o600)
                os.dup2(f, fd)
                os.close(f)
            os.read(r, 1)  # returns at EOF, once every write end is closed
            os.close(r)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    pids.append(pid)
os.close(r)
start = time.monotonic()
os.close(w)
codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
elapsed = time.monotonic() - start
tokens, exchanged, waited, cached = set(), 0, 0, 0
for i in range(n):
    with open(f"{outdir}/out.{i}") as f:
        t = f.read().strip()
        if t:
            tokens.add(t)
    with open(f"{outdir}/err.{i}") as f:
        e = f.read()
        exchanged += "new token from" in e
        waited += "obtained by another process" in e
        cached += "cached token (" in e
print(json.dumps({"n": n, "seconds": elapsed, "failed": sum(c != 0 for c in codes),
                  "distinct_tokens": len(tokens), "exchanged": exchanged,
                  "waited": waited, "cache_hits": cached}))
EOF
BURSTS_JSON=$WORK/bursts.jsonl
: >"$BURSTS_JSON"
for spec in "keyutils kernel $P_KU" "secret-service kernel $P_SS" "keyutils store $P_KU" "secret-service store $P_SS"; do
    read -r store tier prof <<<"$spec"
    for n in $BURSTS; do
        say "burst: $n concurrent cold 'token' calls, $store profile, $tier tier"
        for rep in $(seq "$BURST_REPEATS"); do
            # Empty the cache (docker's erase drops the profile's cached token in its tier).
            printf '%s\n' "$DC" | ACRONIS_PROFILE=$prof ACRONIS_CRED_TOKEN_CACHE=$tier "$BIN" docker erase >/dev/null
            d=$WORK/burst/$store-$tier-$n-$rep
            mkdir -p "$d"
            res=$(ACRONIS_PROFILE=$prof ACRONIS_CRED_TOKEN_CACHE=$tier timeout 300 $PY "$WORK/burst.py" "$n" "$d" "$BIN" -v token) \
                || die "burst harness failed"
            echo "$res" >&2
            $PY -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(store=sys.argv[2], tier=sys.argv[3], rep=int(sys.argv[4])); print(json.dumps(r))' \
                "$res" "$store" "$tier" "$rep" >>"$BURSTS_JSON"
            rm -rf "$d"
        done
    done
done

# ------------------------------------------------------------ size, facts
say "binary size and versions"
cp "$BIN" "$WORK/acronis-cred.stripped"
strip "$WORK/acronis-cred.stripped"
fact size_release "$(stat -c %s "$BIN")"
fact size_stripped "$(stat -c %s "$WORK/acronis-cred.stripped")"
fact release_profile "$(sed -n '/^\[profile.release\]/,/^\[/p' "$ROOT/Cargo.toml" | grep -v '^\[' | grep . | paste -sd ' ' | sed 's/ = /=/g')"
dpkg_v() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
fact "CPU" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) online CPUs$(command -v lscpu >/dev/null && lscpu | awk -F: '/^Thread\(s\) per core/{gsub(/ /,"",$2); printf ", %s thread(s) per core", $2}'))"
fact "RAM" "$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
fact "Kernel" "$(uname -srm)"
fact "OS" "$(. /etc/os-release && echo "$PRETTY_NAME")"
fact "Virtualization" "$(systemd-detect-virt 2>/dev/null || true)"
fact "Load average (1, 5, 15 min) at start" "$LOAD_AT_START"
fact "acronis-cred" "$("$BIN" --version) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ', src modified'))"
fact "rustc" "$RUSTC_VERSION"
fact "hyperfine" "$(hyperfine --version | awk '{print $2}')"
fact "keyctl (keyutils)" "$(keyctl --version 2>&1 | awk '{print $3}')"
fact "secret-tool (libsecret-tools)" "$(dpkg_v libsecret-tools)"
fact "gnome-keyring" "$(gnome-keyring-daemon --version 2>/dev/null | head -1 | awk '{print $2}')"
fact "dbus-daemon" "$(dbus-daemon --version | head -1 | awk '{print $NF}')"
fact "curl" "$(curl -V | head -1 | awk '{print $2}')"
((DOCKER_OK)) && fact "docker-credential-secretservice (golang-docker-credential-helpers)" "$(dpkg_v golang-docker-credential-helpers)"
((PYKR_OK)) && fact "Python keyring" "$("$VENV/bin/python" -c 'import sys, importlib.metadata as m; v = m.version; print("keyring %s, secretstorage %s, jeepney %s, CPython %s" % (v("keyring"), v("secretstorage"), v("jeepney"), sys.version.split()[0]))')"
((GIT_OK)) && fact "git-credential-libsecret (git contrib, Debian git)" "$(dpkg_v git)"
fact "GNU time (time)" "$(dpkg_v time)"

# ---------------------------------------------------------- profiling
if ((PROFILE)); then
    say "profiling the release binary (callgrind, perf stat, strace)"
    PROF=$WORK/profile
    mkdir -p "$PROF"
    for spec in "cached_ku ACRONIS_PROFILE=$P_KU $BIN token" "cached_ss ACRONIS_PROFILE=$P_SS $BIN token" \
        "store_ss ACRONIS_PROFILE=$P_SS,ACRONIS_CRED_TOKEN_CACHE=store $BIN token" \
        "refresh_ku ACRONIS_PROFILE=$P_KU $BIN token --refresh" "refresh_ss ACRONIS_PROFILE=$P_SS $BIN token --refresh" \
        "keyctl LC_ALL=C keyctl pipe $KEY_KU" "secret_tool LC_ALL=C secret-tool lookup service acronis-cred username $P_SS"; do
        read -r name envs args <<<"$spec"
        envs=${envs//,/ }   # NAME ENV[,ENV...] COMMAND...
        # shellcheck disable=SC2086
        env $envs valgrind --tool=callgrind --callgrind-out-file="$PROF/$name.callgrind" $args >/dev/null 2>"$PROF/$name.valgrind.log" || true
        callgrind_annotate --inclusive=yes "$PROF/$name.callgrind" >"$PROF/$name.incl.txt" 2>/dev/null || true
        callgrind_annotate "$PROF/$name.callgrind" >"$PROF/$name.self.txt" 2>/dev/null || true
        # shellcheck disable=SC2086
        env $envs perf stat -x, -e instructions:u,instructions:k,task-clock,page-faults,context-switches -r 20 $args >/dev/null 2>"$PROF/$name.perf.csv" || true
        # shellcheck disable=SC2086
        env $envs strace -f -c -S calls -o "$PROF/$name.strace-c.txt" $args >/dev/null 2>&1 || true
        # shellcheck disable=SC2086
        env $envs strace -f -qq -e trace=openat,open,connect,clone,clone3,keyctl,add_key,request_key,socket,execve,flock \
            -o "$PROF/$name.strace.txt" $args >/dev/null 2>&1 || true
    done
    fact "valgrind" "$(valgrind --version)"
    fact "strace" "$(strace -V | head -1 | awk '{print $NF}')"
    fact "perf" "$(perf --version 2>/dev/null | awk '{print $3}')"
fi

# --------------------------------------------------------------- report
say "results"
cat >"$WORK/report.py" <<'EOF'
import json, os, re, statistics, sys
work, out, runs, warmup, bursts_spec, profiled = sys.argv[1:7]
rows = [l.rstrip("\n").split("\t") for l in open(f"{work}/rows.tsv")]
facts = [l.rstrip("\n").split("\t", 1) for l in open(f"{work}/facts.tsv")]
fact = {}
skips = []
for k, v in facts:
    if k == "skip":
        skips.append(v)
    else:
        fact[k] = v

def rss_mib(id):
    vals = []
    d = f"{work}/rss"
    for f in sorted(os.listdir(d)):
        if f.rsplit(".", 1)[0] == id:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{d}/{f}").read())
            if m:
                vals.append(int(m.group(1)) / 1024)
    return statistics.median(vals) if vals else None

R = {}
for id, group, label, mode, cmd in rows:
    times = json.load(open(f"{work}/json/{id}.json"))["results"][0]["times"]
    ms = [t * 1000 for t in times]
    R[id] = dict(group=group, label=label, mode=mode, cmd=cmd, median=statistics.median(ms),
                 mean=statistics.mean(ms), sd=statistics.stdev(ms) if len(ms) > 1 else 0.0,
                 min=min(ms), max=max(ms), n=len(ms), rss=rss_mib(id))

def med(id):
    return R[id]["median"] if id in R else None

# A synthetic row: the two steps of the cold floor run one after the other.
if "secret_tool" in R and "curl" in R:
    R["st_plus_curl"] = dict(group="cold", label="secret-tool lookup + curl POST (sum of medians)", mode="sum",
                             cmd="median(secret-tool lookup) + median(curl POST)",
                             median=med("secret_tool") + med("curl"), mean=None, sd=None, min=None, max=None,
                             n=None, rss=max(R["secret_tool"]["rss"] or 0, R["curl"]["rss"] or 0))

L = []
w = L.append
w("# acronis-cred benchmark results\n")
w("Generated by `benches/compare.sh` (do not edit by hand; re-run it). "
  f"Timings: hyperfine, {warmup} warm-up runs, {runs} timed runs per command, medians in milliseconds. "
  "Ratios are acronis-cred / peer: below 1 means acronis-cred is faster.\n")
w("## Machine\n")
w("| | |\n|---|---|")
MACHINE = ["CPU", "RAM", "Kernel", "OS", "Virtualization", "Load average (1, 5, 15 min) at start", "Load average (1, 5, 15 min) at end"]
for k in MACHINE:
    w(f"| {k} | {fact.get(k, '?')} |")
w("\nThe load average counts everything else running on the machine; a loaded machine widens the spreads and slows every row alike. "
  "The figure at the end also counts this script's own bursts (up to 200 processes at once) and profiling, which run after the timed rows.")
w("\n## Tool versions\n")
w("| tool | version |\n|---|---|")
for k, v in facts:
    if k in ("skip", "size_release", "size_stripped", "release_profile") or k in MACHINE:
        continue
    w(f"| {k} | {v} |")
if skips:
    w("\nSkipped peers:\n")
    for s in skips:
        w(f"- {s}")

def f(x, d=2):
    return "-" if x is None else f"{x:.{d}f}"

titles = {"cached": "Cached path: a valid token is cached", "peer": "Peers: one secret read from the same Secret Service",
          "cold": "Cold path: one token exchange with the fake datacenter"}
for group in ["cached", "peer", "cold"]:
    w(f"\n## {titles[group]}\n")
    w("| command | median ms | mean ± σ ms | min ms | peak RSS MiB |\n|---|---:|---:|---:|---:|")
    for id, r in R.items():
        if r["group"] != group:
            continue
        ms = "-" if r["mean"] is None else f"{r['mean']:.2f} ± {r['sd']:.2f}"
        w(f"| {r['label']} | **{f(r['median'])}** | {ms} | {f(r['min'])} | {f(r['rss'], 1)} |")

acr_cached = [i for i in ["tok_ku_kernel", "tok_ss_kernel", "tok_ku_store", "tok_ss_store"] if i in R]
floors = [i for i in ["keyctl", "secret_tool", "docker", "pykeyring", "git_libsecret"] if i in R]
w("\n## Ratios, cached path (acronis-cred median / peer median)\n")
short = {"keyctl": "keyctl pipe", "secret_tool": "secret-tool lookup", "docker": "docker-credential-secretservice",
         "pykeyring": "Python keyring", "git_libsecret": "git-credential-libsecret",
         "tok_ku_kernel": "token, keyutils profile, kernel tier", "tok_ss_kernel": "token, secret-service profile, kernel tier",
         "tok_ku_store": "token, keyutils profile, store tier", "tok_ss_store": "token, secret-service profile, store tier",
         "ref_ku": "token --refresh, keyutils profile", "ref_ss": "token --refresh, secret-service profile",
         "st_plus_curl": "secret-tool + curl (sum)", "pipeline": "secret-tool \\| curl (pipeline)", "curl": "curl alone"}
w("| acronis-cred | " + " | ".join(f"/ {short[p]}" for p in floors) + " |")
w("|---|" + "---:|" * len(floors))
for a in acr_cached:
    w(f"| {short[a]} | " + " | ".join(f"{med(a) / med(p):.3f}" for p in floors) + " |")
cold_peers = [i for i in ["st_plus_curl", "pipeline", "curl"] if i in R]
w("\n## Ratios, cold path (acronis-cred median / peer median)\n")
w("| acronis-cred | " + " | ".join(f"/ {short[p]}" for p in cold_peers) + " |")
w("|---|" + "---:|" * len(cold_peers))
for a in [i for i in ["ref_ku", "ref_ss"] if i in R]:
    w(f"| {short[a]} | " + " | ".join(f"{med(a) / med(p):.3f}" for p in cold_peers) + " |")

# Bursts
B = [json.loads(l) for l in open(f"{work}/bursts.jsonl")]
w("\n## Burst: concurrent cold calls\n")
w("N processes of `acronis-cred -v token` on an empty cache, forked first and then released at once "
  "(each blocks reading a pipe until the harness closes its write end), timed from the release to the last exit; "
  f"each burst repeated {max(b['rep'] for b in B) if B else 0} times (median time shown). "
  "Exchanges are counted two independent ways: processes whose `-v` output says `new token from` (it exchanged), "
  "and distinct tokens printed (the fake datacenter issues a unique token per exchange). "
  "`waited` = got the token from another process's exchange after waiting on the lock; `hit` = found it cached before locking.\n")
w("| profile | cache tier | N | median time to all done ms | per call ms | exchanges (max over repeats) | distinct tokens (max) | waited / hit (last repeat) | failed |")
w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
groups = {}
for b in B:
    groups.setdefault((b["store"], b["tier"], b["n"]), []).append(b)
burst_ok = True
for (store, tier, n), bs in groups.items():
    t = statistics.median(b["seconds"] for b in bs) * 1000
    ex = max(b["exchanged"] for b in bs)
    dt = max(b["distinct_tokens"] for b in bs)
    fl = sum(b["failed"] for b in bs)
    last = bs[-1]
    w(f"| {store} | {tier} | {n} | {t:.1f} | {t / n:.2f} | {ex} | {dt} | {last['waited']} / {last['cache_hits']} | {fl} |")
    if n == max(x[2] for x in groups) and (ex != 1 or dt != 1 or fl):
        burst_ok = False

# Size
rel = int(fact["size_release"]); stripped = int(fact["size_stripped"])
w("\n## Binary size\n")
w(f"Release profile as in Cargo.toml (`{fact.get('release_profile', '?')}`), x86_64: "
  f"**{rel / 2**20:.2f} MiB** as built (symbol table kept by `strip = \"debuginfo\"`), "
  f"**{stripped / 2**20:.2f} MiB** after `strip` (all symbols removed).\n")

# Targets. The verdict is on medians, as specified; the ratio of the minimum
# times is shown beside it, as the estimate least disturbed by other load.
def target(name, value, limit, fmt, ok, at_min=None):
    return f"| {name} | {fmt(value)} | {'-' if at_min is None else fmt(at_min)} | {limit} | {'met' if ok else '**missed**'} |"
def mn(id):
    return R[id]["min"]
T = []
for a, what in [("tok_ku_kernel", "keyutils profile"), ("tok_ss_kernel", "secret-service profile")]:
    if a not in R:
        continue
    if "keyctl" in R:
        x = med(a) / med("keyctl")
        T.append(target(f"cached token, kernel tier ({what}) / keyctl pipe", x, "≤ 2", lambda v: f"{v:.2f}x", x <= 2, mn(a) / mn("keyctl")))
    if "secret_tool" in R:
        x = med(a) / med("secret_tool")
        T.append(target(f"cached token, kernel tier ({what}) / secret-tool lookup", x, "≤ 0.2", lambda v: f"{v:.3f}x", x <= 0.2, mn(a) / mn("secret_tool")))
    if "pykeyring" in R:
        x = med("pykeyring") / med(a)
        T.append(target(f"Python keyring / cached token, kernel tier ({what})", x, "≥ 50 (faster)", lambda v: f"{v:.0f}x faster", x >= 50, mn("pykeyring") / mn(a)))
for a, what in [("tok_ss_store", "secret-service profile"), ("tok_ku_store", "keyutils profile")]:
    if a in R and "secret_tool" in R:
        x = med(a) / med("secret_tool")
        T.append(target(f"cached token, store tier ({what}) / secret-tool lookup", x, "≤ 1.0", lambda v: f"{v:.2f}x", x <= 1.0, mn(a) / mn("secret_tool")))
for a, what in [("ref_ss", "secret-service profile"), ("ref_ku", "keyutils profile")]:
    if a in R and "st_plus_curl" in R:
        x = med(a) / med("st_plus_curl")
        T.append(target(f"token --refresh ({what}) / (secret-tool lookup + curl)", x, "≤ 1.3", lambda v: f"{v:.2f}x", x <= 1.3, mn(a) / (mn("secret_tool") + mn("curl"))))
for a, what in [("tok_ku_kernel", "keyutils, kernel tier"), ("tok_ss_kernel", "secret-service, kernel tier"),
                ("tok_ss_store", "secret-service, store tier"), ("tok_ku_store", "keyutils, store tier")]:
    if a in R and R[a]["rss"] is not None:
        T.append(target(f"peak RSS, cached token ({what})", R[a]["rss"], "≤ 10 MiB", lambda v: f"{v:.1f} MiB", R[a]["rss"] <= 10))
T.append(target("release binary, stripped", stripped / 2**20, "≤ 8 MiB", lambda v: f"{v:.2f} MiB", stripped <= 8 * 2**20))
big = max((x[2] for x in groups), default=0)
for (store, tier, n), bs in groups.items():
    if n == big:
        ex = max(max(b["exchanged"], b["distinct_tokens"]) for b in bs)
        ok = all(b["exchanged"] == 1 and b["distinct_tokens"] == 1 and not b["failed"] for b in bs)
        T.append(target(f"{n} concurrent cold calls ({store} profile, {tier} tier): exchanges", ex, "1 per burst", str, ok))
w("\n## Targets\n")
w("Verdicts are on the medians. The column \"at the minimums\" is the same ratio computed from the fastest run of each "
  "command, the figure least disturbed by other load on the machine; where the two disagree, the verdict is within the noise of this run.\n")
w("| target | measured (medians) | at the minimums | limit | verdict |\n|---|---:|---:|---:|---|")
L.extend(T)

w("\n## Method\n")
w("- One private Secret Service for everything: a private `dbus-daemon` session bus and `gnome-keyring-daemon "
  "--components=secrets` with an unlocked login keyring, under a temporary HOME; one loopback fake datacenter "
  "(`examples/fake-datacenter.rs`, release build) with one API client.")
w("- Two acronis-cred profiles with unique names, one per store (`--store keyutils`, `--store secret-service`), "
  "registered with `--secret-stdin` and removed at exit. The store tier is forced with `ACRONIS_CRED_TOKEN_CACHE=store`; "
  "all four caches are primed and checked (`-v` says `cached token (<tier> cache)`) before timing.")
w("- `keyctl pipe` reads the key holding the kernel-tier cached token of the keyutils profile (`acronis-cred:token:<profile>` in `@u`).")
w("- `secret-tool lookup` and Python `keyring get` read acronis-cred's own Secret Service entry (attributes "
  "`service=acronis-cred username=<profile>`); docker-credential-secretservice and git-credential-libsecret read "
  "an entry each stored first with their own `store` action. Commands that need stdin (docker, git) run through "
  "`sh` with a redirect; hyperfine measures the shell's start-up and subtracts it. All others run with `-N` (no shell).")
w("- Cold floor: `curl -sS --fail -K FILE -d grant_type=client_credentials $DC/api/2/idp/token`, where FILE "
  "(`user = \"ID:SECRET\"`, mode 0600) is on tmpfs, so the secret is in neither argv nor on disk; the target compares "
  "`token --refresh` with the sum of the medians of `secret-tool lookup` and that curl. The one-pipeline variant "
  "(`secret-tool lookup` feeding `curl -K -` through a pipe) is shown too; its two processes overlap, so it can be "
  "faster than the sum.")
w("- `token --refresh` always exchanges: it reads the secret from the profile's store, POSTs, and writes the kernel-tier cache.")
w("- Peak RSS: median over 5 runs of GNU time's `Maximum resident set size` (`/usr/bin/time -v`); for shell "
  "rows and pipelines it is the largest single process.")
w(f"- Bursts: sizes {bursts_spec}; before each repeat the profile's cached token is dropped with `acronis-cred docker erase` "
  "in the tier under test.")

if profiled == "1":
    w("\n## Profile of the release binary\n")
    w("One run each under valgrind callgrind (instructions executed, `Ir`, whole process incl. the dynamic loader and "
      "every thread), `perf stat -r 20` (software counters; hardware instruction counters are reported when the machine "
      "exposes them) and `strace -f` (syscalls, threads spawned = successful clone/clone3, files opened, connections to "
      "the private D-Bus socket, keyctl calls). `keyctl pipe` and `secret-tool lookup` are profiled the same way for reference.\n")
    prof = f"{work}/profile"
    names = {"cached_ku": "cached `token`, keyutils profile, kernel tier",
             "cached_ss": "cached `token`, secret-service profile, kernel tier",
             "store_ss": "cached `token`, secret-service profile, store tier",
             "refresh_ku": "`token --refresh`, keyutils profile",
             "refresh_ss": "`token --refresh`, secret-service profile",
             "keyctl": "`keyctl pipe` (reference)",
             "secret_tool": "`secret-tool lookup` (reference)"}
    def read(path):
        try:
            return open(path).read()
        except OSError:
            return ""
    def fmt_int(s):
        try:
            return f"{int(float(s)):,}"
        except (TypeError, ValueError):
            return "n/a"
    w("| case | instructions (callgrind) | perf instructions:u | task-clock ms | page faults | context switches | syscalls | threads spawned | files opened | D-Bus connects | keyctl calls |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    details = []
    generic = re.compile(r"\(below main\)|__libc_start|lang_start|__rust_begin_short_backtrace|acronis_cred::main\b|"
                         r"\?\?\?:main |\?\?\?:0x|start_thread|thread_start|call_once\{\{vtable|clone3|_dl_start\b|_dl_sysdep_start|dl_main")
    for n, title in names.items():
        incl = read(f"{prof}/{n}.incl.txt").splitlines()
        ir = next((m.group(1) for l in incl for m in [re.match(r"\s*([\d,]+)\s.*PROGRAM TOTALS", l)] if m), "-")
        perf = {}
        for line in read(f"{prof}/{n}.perf.csv").splitlines():
            p = line.strip().split(",")
            if len(p) > 3:
                perf[p[2]] = p[0]
        sc = "-"
        for line in read(f"{prof}/{n}.strace-c.txt").splitlines():
            parts = line.split()
            if parts and parts[-1] == "total":
                sc = parts[3]
        txt = read(f"{prof}/{n}.strace.txt").splitlines()
        threads = sum(1 for l in txt if re.search(r"\bclone3?\(", l) and re.search(r"= \d+$", l))
        opened = [m.group(1) for l in txt for m in [re.search(r'open(?:at)?\(.*?"([^"]+)".*\) = \d', l)] if m]
        dbus = sum(1 for l in txt if "connect(" in l and "/bus" in l)
        keyctl = sum(1 for l in txt if re.search(r"\b(keyctl|add_key|request_key)\(", l))
        tc = perf.get("task-clock", "")
        w(f"| {title} | {ir} | {fmt_int(perf.get('instructions:u'))} | {f(float(tc)) if tc[:1].isdigit() else 'n/a'} | "
          f"{fmt_int(perf.get('page-faults'))} | {fmt_int(perf.get('context-switches'))} | {sc} | {threads} | {len(opened)} | {dbus} | {keyctl} |")
        details.append((title, n, opened, incl))
    for title, n, opened, incl in details:
        w(f"\n### {title}\n")
        w("Files opened: " + (", ".join(f"`{o}`" for o in opened) or "-") + "\n")
        top = read(f"{prof}/{n}.strace-c.txt").strip().splitlines()
        if top:
            w("Syscalls (strace -c -f, by count):\n\n```\n" + "\n".join(top[:16]) + "\n```\n")
        for label, lines in (("inclusive, runtime frames left out", incl), ("self", read(f"{prof}/{n}.self.txt").splitlines())):
            start = next((i for i, l in enumerate(lines) if "file:function" in l), None)
            if start is None:
                continue
            sel = [l for l in lines[start + 2:] if l.strip() and not (label.startswith("incl") and generic.search(l))][:20]
            sel = [re.sub(r" \[/[^\]]*/([^/\]]+)\]$", r" [\1]", re.sub(r"\./[^:]*/", "", x)) for x in sel]
            w(f"Top callgrind costs ({label}):\n\n```\n" + "\n".join(x[:170] for x in sel) + "\n```\n")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
fact "Load average (1, 5, 15 min) at end" "$(cut -d' ' -f1-3 /proc/loadavg)"
$PY "$WORK/report.py" "$WORK" "$OUT" "$RUNS" "$WARMUP" "$BURSTS" "$PROFILE"
note "wrote $OUT"
