#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on loopback: munged, slurmctld and slurmd, run as root without
# systemd, every file (key, sockets, state, spool, logs, pid files) inside $SLURM_CI_DIR.
#
# usage: cluster.sh start            start the daemons and wait until the node is idle
#        cluster.sh stop             cancel what is left, stop the daemons
#        cluster.sh wait JOBID...    wait until the jobs leave the queue; fail unless every record
#                                    (each array task included) ended COMPLETED
#        cluster.sh states JOBID...  print "JOBID STATE" for every record (array tasks as ID_TASK)
#        cluster.sh logs             print the tail of the daemons' logs
#
# SLURM_CI_DIR (required) must be a fresh, empty directory (mktemp -d): a reused state directory
# replays the jobs of an earlier run. SLURMCTLD_PORT and SLURMD_PORT (default 6817 and 6818) pick
# the ports; SLURM_CI_TIMEOUT (default 600) bounds `wait` in seconds. Client commands (sbatch,
# squeue, scontrol) need SLURM_CONF=$SLURM_CI_DIR/slurm.conf in their environment.
# Needs: apt-get install -y --no-install-recommends slurm-wlm (slurmctld, slurmd, slurm-client, munge).
set -euo pipefail

D=${SLURM_CI_DIR:?set SLURM_CI_DIR to a fresh directory (mktemp -d)}
export SLURM_CONF=$D/slurm.conf
CTLD_PORT=${SLURMCTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
PID_FILES="slurmd.pid slurmctld.pid munge/munged.pid"

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  if [ -e "$SLURM_CONF" ]; then
    echo "cluster.sh: $D was used by an earlier cluster; give it a fresh directory" >&2
    return 1
  fi
  local port
  for port in "$CTLD_PORT" "$SLURMD_PORT"; do
    if port_in_use "$port"; then
      echo "cluster.sh: port $port is in use (another Slurm?); set SLURMCTLD_PORT/SLURMD_PORT" >&2
      return 1
    fi
  done
  mkdir -p "$D"/{munge,ctld,d,log}
  # munged runs as the munge user: it must traverse $D (mktemp -d makes it 0700), its socket
  # directory must be 0755 and its key 0400, both owned by munge.
  chmod 755 "$D"
  dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
  chown -R munge:munge "$D/munge"
  chmod 755 "$D/munge"
  chmod 400 "$D/munge/munge.key"
  runuser -u munge -- munged --key-file="$D/munge/munge.key" --socket="$D/munge/munge.sock" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed"
  local node
  node=$(hostname -s)
  cat >"$SLURM_CONF" <<CONF
ClusterName=ci
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/ctld
SlurmdSpoolDir=$D/d
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=30 State=UP
CONF
  # Both daemonise and write their pid files.
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  local _
  for _ in $(seq 150); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.2
  done
  echo "cluster.sh: the node did not become idle in 30 s" >&2
  logs >&2
  return 1
}

stop() {
  if [ -f "$SLURM_CONF" ]; then
    timeout 10 scancel --quiet --user="$(id -un)" 2>/dev/null || true
  fi
  local f pid _
  for f in $PID_FILES; do
    if [ -s "$D/$f" ]; then kill "$(cat "$D/$f")" 2>/dev/null || true; fi
  done
  for f in $PID_FILES; do
    [ -s "$D/$f" ] || continue
    pid=$(cat "$D/$f")
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# One line per record: "ID STATE", array tasks as ARRAYJOBID_TASK.
states() {
  local j
  for j in "$@"; do
    scontrol -o show job "$j" | awk '{
      id = ""; task = ""; array = ""; state = ""
      for (i = 1; i <= NF; i++) {
        split($i, kv, "=")
        if (kv[1] == "JobId") id = kv[2]
        else if (kv[1] == "ArrayJobId") array = kv[2]
        else if (kv[1] == "ArrayTaskId") task = kv[2]
        else if (kv[1] == "JobState") state = kv[2]
      }
      if (array != "" && task != "") id = array "_" task
      print id, state
    }'
  done
}

# Waits for the jobs (arrays or not) to leave the queue by polling squeue, then fails unless every
# record ended COMPLETED: `sbatch --wait` exits 0 for a job cancelled because its dependency
# failed, so the final states are the only proof.
wait_jobs() {
  [ $# -gt 0 ] || { echo "cluster.sh: wait needs job ids" >&2; return 2; }
  local ids deadline
  ids=$(IFS=,; echo "$*")
  deadline=$((SECONDS + ${SLURM_CI_TIMEOUT:-600}))
  while [ -n "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: jobs $ids still queued after ${SLURM_CI_TIMEOUT:-600} s:" >&2
      squeue -j "$ids" -o '%.18i %.10T %.30R' >&2 || true
      return 1
    fi
    sleep 0.5
  done
  local bad
  bad=$(states "$@" | awk '$2 != "COMPLETED"')
  if [ -n "$bad" ]; then
    echo "cluster.sh: not every job completed:" >&2
    echo "$bad" >&2
    return 1
  fi
}

logs() {
  local f
  for f in "$D"/log/slurmctld.log "$D"/log/slurmd.log "$D"/munge/munged.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  wait) shift; wait_jobs "$@" ;;
  states) shift; states "$@" ;;
  logs) logs ;;
  *)
    echo "usage: $0 start|stop|wait JOBID...|states JOBID...|logs" >&2
    exit 2
    ;;
esac
