#!/usr/bin/env bash
# End-to-end test of Mapseg's scale-out commands on a real one-node Slurm cluster.
#
# usage: run.sh MAPSEG_BINARY INPUT_TIF
#
# Starts a throw-away cluster (cluster.sh), segments INPUT_TIF once with `mapseg segment` as the
# reference and fits one model with `mapseg fit` (same k and seed), then for each part count N
# submits `mapseg apply` as an N-task job array (apply.sbatch) and a dependent `mapseg merge` job
# (merge.sbatch), and checks that every job record COMPLETED, that the merged COG is byte for byte
# segment's output (gdalinfo -checksum and the decoded pixels too), that the merged VRT has its
# checksum, class names, manifest, nodata and colour table, and that the merged statistics CSV is
# segment's. Then one task of a 3-part array fails for real (its input does not exist): that task
# must end FAILED, the merge job CANCELLED, and `mapseg merge` run by hand on those parts must
# refuse, naming the missing part. Submitting that task alone again must then complete the parts
# and the merge.
#
# Pick an input whose number of 256-pixel tile rows is not divisible by 2 or 3, so that the
# parts are uneven. Prints PASS/FAIL per check, the job logs on failure, and exits non-zero on
# any failure.
#
# Environment: MAPSEG_SLURM_K (default 6), MAPSEG_SLURM_SEED (default 7), MAPSEG_SLURM_PARTS
# (the part counts, default "1 2 3"), MAPSEG_SLURM_KEEP=1 keeps the work directory,
# SLURMCTLD_PORT/SLURMD_PORT (default 6817/6818).
# Needs: slurm-wlm (apt-get install -y --no-install-recommends slurm-wlm) and gdal-bin; root.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 MAPSEG_BINARY INPUT_TIF" >&2
  exit 2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER=$HERE/cluster.sh
MAPSEG=$(realpath "$1")
INPUT=$(realpath "$2")
K=${MAPSEG_SLURM_K:-6}
SEED=${MAPSEG_SLURM_SEED:-7}
PART_COUNTS=${MAPSEG_SLURM_PARTS:-1 2 3}
for tool in sbatch squeue scontrol slurmctld slurmd munged gdalinfo gdal_translate; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 2; }
done
[ -x "$MAPSEG" ] || { echo "run.sh: $MAPSEG is not an executable" >&2; exit 2; }
[ -r "$INPUT" ] || { echo "run.sh: cannot read $INPUT" >&2; exit 2; }

# Everything (cluster state, model, parts, outputs, logs) lives in one fresh directory. munged
# runs as the munge user and must traverse it.
ROOT=$(mktemp -d -t mapseg-slurm.XXXXXX)
chmod 755 "$ROOT"
# The jobs run a hard link to the binary, which a rebuild during the run leaves alone.
if ln "$MAPSEG" "$ROOT/mapseg" 2>/dev/null; then MAPSEG=$ROOT/mapseg; fi
export SLURM_CI_DIR=$ROOT/cluster
export SLURM_CONF=$SLURM_CI_DIR/slurm.conf
# Read by the job scripts through sbatch's default --export=ALL.
export MAPSEG INPUT
export MODEL=$ROOT/model.json

checks=0
failures=0
pass() { checks=$((checks + 1)); echo "PASS  $1"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL  $1"; }
# check NAME COMMAND...: runs the command, PASS when it exits 0.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

now_us() { echo "${EPOCHREALTIME/./}"; }
seconds_since() { local us=$(($(now_us) - $1)); printf '%d.%02d' $((us / 1000000)) $((us % 1000000 / 10000)); }
timings=()
total_start=$(now_us)
timed() { timings+=("$1 $(seconds_since "$2") s"); }

print_logs() {
  local f
  echo "----- job logs"
  for f in "$ROOT"/*/logs/*; do
    [ -f "$f" ] || continue
    echo "----- ${f#"$ROOT"/}"
    cat "$f"
  done
  "$CLUSTER" logs || true
}

finish() {
  local status=$? t
  trap - EXIT
  if [ "$status" -ne 0 ] || [ "$failures" -gt 0 ]; then print_logs; fi
  t=$(now_us)
  "$CLUSTER" stop || true
  timed "cluster stop" "$t"
  timed "total" "$total_start"
  if [ -n "${MAPSEG_SLURM_KEEP:-}" ]; then
    echo "kept $ROOT"
  else
    rm -rf "$ROOT"
  fi
  echo "timings:"
  printf '  %s\n' "${timings[@]}"
  if [ "$status" -ne 0 ]; then
    echo "FAIL  stopped by an error (exit $status) after $checks checks, $failures failed"
  elif [ "$failures" -gt 0 ]; then
    echo "FAIL  $failures of $checks checks failed"
    status=1
  else
    echo "PASS  all $checks checks"
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'echo "run.sh: line $LINENO: $BASH_COMMAND: exit $?" >&2' ERR

# sbatch --parsable prints "JOBID" or "JOBID;CLUSTER".
submit() {
  local id
  id=$(sbatch --parsable "$@")
  echo "${id%%;*}"
}

checksums() { gdalinfo -checksum "$1" | grep -o 'Checksum=[0-9]*'; }
band_checksum() { checksums "$1" | head -n 1; }
same_checksums() { [ "$(checksums "$1")" = "$(checksums "$2")" ]; }
same_band_checksum() { [ "$(band_checksum "$1")" = "$(band_checksum "$2")" ]; }
# The decoded pixels of two rasters, compared as raw band data.
same_pixels() {
  local a=$ROOT/pixels-a.raw b=$ROOT/pixels-b.raw status=0
  gdal_translate -q -of ENVI "$1" "$a" && gdal_translate -q -of ENVI "$2" "$b" && cmp -s "$a" "$b" || status=1
  rm -f "$a" "$a.hdr" "$a.aux.xml" "$b" "$b.hdr" "$b.aux.xml"
  return "$status"
}
# What a label raster says about its classes: the dataset metadata (class names, manifest; not
# AREA_OR_POINT, which a VRT leaves to its default), band description, nodata and colour table.
legend() {
  gdalinfo "$1" | awk '
    /^Metadata:$/ { md = 1; next }
    /^[A-Z]/ { md = 0 }
    md && !/^  AREA_OR_POINT=/ { print "metadata " $0 }
    /^  Description = / || /^  NoData Value=/ { print }
    /^  Color Table/ { ct = 1; print; next }
    ct && /^ +[0-9]+: / { print "colour " $0; next }
    { ct = 0 }'
}
same_legend() {
  diff <(legend "$1") <(legend "$2") | sed 's/^/  /'
  [ "${PIPESTATUS[0]}" -eq 0 ]
}
# Exactly the part files part-000000 … part-(N-1), a .tif and a .json each.
parts_complete() {
  local dir=$1 n=$2 i expected actual
  expected=$(for ((i = 0; i < n; i++)); do printf 'part-%06d.json\npart-%06d.tif\n' "$i" "$i"; done)
  actual=$(cd "$dir" 2>/dev/null && ls part-* 2>/dev/null)
  [ "$expected" = "$actual" ] ||
    { echo "  expected: $(tr '\n' ' ' <<<"$expected")"; echo "  found:    $(tr '\n' ' ' <<<"$actual")"; return 1; }
}
# exit_code_is JOBID CODE: the job's (single) record ended with ExitCode=CODE.
exit_code_is() { [[ "$(scontrol -o show job "$1")" == *" ExitCode=$2 "* ]]; }
none_exist() {
  local f
  for f in "$@"; do
    if [ -e "$f" ]; then echo "  $f exists"; return 1; fi
  done
}
# state_is ID STATE: the record ID (JOBID or ARRAYJOBID_TASK) ended in STATE.
state_is() {
  local got
  got=$("$CLUSTER" states "${1%%_*}" | awk -v id="$1" '$1 == id { print $2 }')
  [ "$got" = "$2" ] || { echo "  $1 is ${got:-absent}, expected $2"; return 1; }
}

size=$(gdalinfo "$INPUT" | sed -n 's/^Size is \([0-9]*\), \([0-9]*\)$/\1 \2/p')
width=${size% *}
height=${size#* }
echo "input: $INPUT, ${width}×${height} px, $(((height + 255) / 256)) tile rows; k=$K seed=$SEED; parts: $PART_COUNTS"

t=$(now_us)
"$CLUSTER" start
timed "cluster start" "$t"
sinfo

t=$(now_us)
"$MAPSEG" segment "$INPUT" -o "$ROOT/reference.tif" --stats "$ROOT/reference.csv" --k "$K" --seed "$SEED" -q
timed "mapseg segment (reference)" "$t"
t=$(now_us)
"$MAPSEG" fit "$INPUT" -o "$MODEL" --k "$K" --seed "$SEED" -q
timed "mapseg fit" "$t"

for n in $PART_COUNTS; do
  t=$(now_us)
  dir=$ROOT/parts-$n
  mkdir -p "$dir/logs"
  apply=$(PARTS=$n PARTS_DIR=$dir/parts submit --chdir="$dir" --array="0-$((n - 1))" "$HERE/apply.sbatch")
  merge=$(PARTS_DIR=$dir/parts OUTPUT=$dir/merged.tif OUTPUT_VRT=$dir/merged.vrt STATS=$dir/merged.csv \
    submit --chdir="$dir" --dependency="afterok:$apply" --kill-on-invalid-dep=yes "$HERE/merge.sbatch")
  echo "N=$n: apply array $apply, merge job $merge"
  check "N=$n: every apply task and the merge job COMPLETED" "$CLUSTER" wait "$apply" "$merge"
  "$CLUSTER" states "$apply" "$merge" | sed 's/^/  /'
  check "N=$n: the parts are part-000000 … part-$(printf %06d $((n - 1))), .tif and .json each" \
    parts_complete "$dir/parts" "$n"
  check "N=$n: merged COG is byte for byte segment's output" cmp "$dir/merged.tif" "$ROOT/reference.tif"
  check "N=$n: gdalinfo -checksum of the merged COG (band and overviews) equals segment's" \
    same_checksums "$dir/merged.tif" "$ROOT/reference.tif"
  check "N=$n: decoded pixels of the merged COG equal segment's" same_pixels "$dir/merged.tif" "$ROOT/reference.tif"
  check "N=$n: gdalinfo -checksum of the merged VRT equals segment's" \
    same_band_checksum "$dir/merged.vrt" "$ROOT/reference.tif"
  check "N=$n: the merged VRT has segment's class names, manifest, band description, nodata and colour table" \
    same_legend "$ROOT/reference.tif" "$dir/merged.vrt"
  check "N=$n: merged statistics CSV equals segment's --stats" cmp "$dir/merged.csv" "$ROOT/reference.csv"
  timed "N=$n (apply array + merge + checks)" "$t"
done

# One task of three fails for real: task 1 is submitted on its own (still as an array task, so
# it finds its index in SLURM_ARRAY_TASK_ID) with an input path that does not exist.
t=$(now_us)
n=3
dir=$ROOT/failing
mkdir -p "$dir/logs"
good=$(PARTS=$n PARTS_DIR=$dir/parts submit --chdir="$dir" --array=0,2 "$HERE/apply.sbatch")
bad=$(PARTS=$n PARTS_DIR=$dir/parts INPUT=$dir/missing.tif submit --chdir="$dir" --array=1 "$HERE/apply.sbatch")
merge=$(PARTS_DIR=$dir/parts OUTPUT=$dir/merged.tif STATS=$dir/merged.csv \
  submit --chdir="$dir" --dependency="afterok:$good:$bad" --kill-on-invalid-dep=yes "$HERE/merge.sbatch")
echo "failure test: apply tasks 0,2 $good, apply task 1 $bad (missing input), merge job $merge"
if "$CLUSTER" wait "$good" "$bad" "$merge" 2>/dev/null; then
  fail "failure test: cluster.sh wait reports the failed jobs"
else
  pass "failure test: cluster.sh wait reports the failed jobs"
fi
"$CLUSTER" states "$good" "$bad" "$merge" | sed 's/^/  /'
check "failure test: task 0 COMPLETED" state_is "${good}_0" COMPLETED
check "failure test: task 2 COMPLETED" state_is "${good}_2" COMPLETED
check "failure test: task 1 FAILED" state_is "${bad}_1" FAILED
check "failure test: task 1 exited with status 1" exit_code_is "$bad" 1:0
task_err=$dir/logs/apply-${bad}_1.err
one_line_naming_input() {
  if [ "$(wc -l <"$task_err")" -eq 1 ] && grep -q missing.tif "$task_err"; then return 0; fi
  echo "  the task's standard error:"
  sed 's/^/    /' "$task_err"
  return 1
}
check "failure test: task 1 wrote one line naming its input to standard error" one_line_naming_input
check "failure test: the merge job was CANCELLED" state_is "$merge" CANCELLED
check "failure test: the merge job wrote nothing" none_exist "$dir/merged.tif" "$dir/merged.csv"
status=0
message=$("$MAPSEG" merge "$dir/parts" -o "$dir/by-hand.tif" --stats "$dir/by-hand.csv" 2>&1 >/dev/null) || status=$?
echo "  mapseg merge by hand: exit $status: $message"
check "failure test: mapseg merge by hand exits 1" test "$status" -eq 1
check "failure test: mapseg merge by hand names the missing part" grep -q "part 1 of 3 is missing" <<<"$message"
check "failure test: mapseg merge by hand wrote nothing" none_exist "$dir/by-hand.tif" "$dir/by-hand.csv"
timed "failure test" "$t"

# Recovery: only the failed task is submitted again, with its real input (an array of the one
# index 1, so the scheduler's task count says 1 while the split stays 3), then the merge.
t=$(now_us)
again=$(PARTS=$n PARTS_DIR=$dir/parts submit --chdir="$dir" --array=1 "$HERE/apply.sbatch")
merge=$(PARTS_DIR=$dir/parts OUTPUT=$dir/merged.tif STATS=$dir/merged.csv \
  submit --chdir="$dir" --dependency="afterok:$again" --kill-on-invalid-dep=yes "$HERE/merge.sbatch")
echo "recovery: apply task 1 again $again, merge job $merge"
check "recovery: task 1 and the merge job COMPLETED" "$CLUSTER" wait "$again" "$merge"
check "recovery: merged COG is byte for byte segment's output" cmp "$dir/merged.tif" "$ROOT/reference.tif"
check "recovery: merged statistics CSV equals segment's --stats" cmp "$dir/merged.csv" "$ROOT/reference.csv"
timed "recovery (task 1 again + merge)" "$t"

