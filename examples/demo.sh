#!/usr/bin/env bash
# See acronis-cred do its main job on any Linux machine, without an Acronis
# account: start the bundled fake datacenter on 127.0.0.1, register an API
# client into the kernel keyring (no extra packages needed), print a token,
# call the Account Management API with it through curl, then clean up.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin acronis-cred --example fake-datacenter
bin=$PWD/target/debug/acronis-cred
fake=$PWD/target/debug/examples/fake-datacenter

work=$(mktemp -d)
fake_pid=
cleanup() {
    "$bin" remove >/dev/null 2>&1 || true
    [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A private config and runtime dir, and a profile of its own: the demo never
# touches your real profiles.
export XDG_CONFIG_HOME=$work/config XDG_RUNTIME_DIR=$work/run ACRONIS_PROFILE=demo-$$
mkdir -m 700 "$work/run"

client_id=demo-client
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s %s\n' "$client_id" "$secret" | "$fake" --url-file "$work/url" >/dev/null &
fake_pid=$!
for _ in $(seq 50); do [[ -s $work/url ]] && break; sleep 0.1; done
datacenter=$(cat "$work/url")

echo "== register (secret from stdin, verified with a real exchange)"
printf '%s\n' "$secret" | "$bin" --store keyutils register \
    --datacenter "$datacenter" --client-id "$client_id" --secret-stdin

echo "== token"
"$bin" token

echo "== status"
"$bin" status

echo "== GET /api/2/clients/$client_id with the token, via curl"
curl -sS --fail -H @<("$bin" token --format header) "$("$bin" url)/clients/$client_id"
echo
