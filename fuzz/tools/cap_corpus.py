#!/usr/bin/env python3
"""Caps a fuzz corpus at K files by greedy set cover of coverage edges.

Usage (from the repository root, after `cargo fuzz build -a`):

    BIN=fuzz/target/x86_64-unknown-linux-gnu/release/<target>
    mkdir -p /tmp/throw
    $BIN -merge=1 -use_counters=0 -merge_control_file=/tmp/ctl /tmp/throw <pool dir>
    python3 fuzz/tools/cap_corpus.py /tmp/ctl <out dir> 80 $(cd fuzz/corpus/<target> && ls seed-*)

The named seed files are always kept; then, up to K files in all, the file
that adds the most not-yet-covered edges (ties: the smaller file) is taken.
"""
ctl, out, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
seeds = set(sys.argv[4:])
lines = open(ctl).read().split('\n')
n = int(lines[0]); files = lines[2:2 + n]
cov = {}
for l in lines[2 + n:]:
    p = l.split()
    if p and p[0] == 'COV':
        cov[int(p[1])] = set(map(int, p[2:]))
covered, chosen = set(), []
for i, f in enumerate(files):
    if os.path.basename(f) in seeds:
        chosen.append(i); covered |= cov.get(i, set())
total = set().union(*cov.values()) if cov else set()
while len(chosen) < k:
    best = max((i for i in cov if i not in chosen), key=lambda i: (len(cov[i] - covered), -os.path.getsize(files[i])), default=None)
    if best is None or not (cov[best] - covered): break
    chosen.append(best); covered |= cov[best]
os.makedirs(out, exist_ok=True)
for i in chosen:
    shutil.copy(files[i], out)
print(f"chosen={len(chosen)} edges={len(covered)}/{len(total)}")
