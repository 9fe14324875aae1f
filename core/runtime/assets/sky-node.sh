#!/bin/sh
# sky-node.sh: the sky node runtime. Runs one rank of a job on this node, detached from whoever
# started it, so the job keeps running (and its log and exit code are kept here) when the daemon
# or its connection goes away. Needs a POSIX shell and coreutils; uses setsid when present.
#
#   sh sky-node.sh start  JOBDIR           start the job; prints the runner's pid (its process group)
#   sh sky-node.sh status JOBDIR...        one line per job: "STATUS EXIT_CODE" (EXIT_CODE "-" until known)
#   sh sky-node.sh cancel JOBDIR...        end the job's whole process group; status CANCELLED
#   sh sky-node.sh gc NODEROOT [DAYS]      remove finished jobs whose status is older than DAYS (30)
#   sh sky-node.sh version                 the runtime protocol version
#
# JOBDIR is NODEROOT/.sky/jobs/JOB and holds: env (KEY='value' lines), setup.sh (optional), run.sh,
# and, written here: log (stdout+stderr of setup then run), status, exit_code, pid, started_at,
# ended_at. Statuses: PENDING SETTING_UP RUNNING SUCCEEDED FAILED FAILED_SETUP CANCELLED; a job
# dir that does not exist reports MISSING.
# setup.sh and run.sh run in NODEROOT/sky_workdir (or NODEROOT), under SKY_JOB_SHELL (default:
# bash when installed, else sh), with the variables of env exported.
set -u
SKY_RUNTIME_VERSION=1

die() {
  printf 'sky-node: %s\n' "$*" >&2
  exit 2
}

# get FILE: the first line of FILE, or nothing.
get() {
  _line=
  if [ -r "$1" ]; then IFS= read -r _line < "$1" || :; fi
  printf '%s' "$_line"
}

# put FILE VALUE: replace FILE atomically.
put() {
  printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

nap() {
  sleep 0.05 2>/dev/null || sleep 1
}

# lock JOBDIR / unlock JOBDIR: serialises status changes between the runner, status and cancel.
# Nobody holds it for more than a few writes, so after ~5 s it is taken as abandoned.
lock() {
  _tries=0
  while ! mkdir "$1/.lock" 2>/dev/null; do
    _tries=$((_tries + 1))
    if [ "$_tries" -ge 100 ]; then
      rmdir "$1/.lock" 2>/dev/null
      _tries=0
    fi
    nap
  done
}
unlock() {
  rmdir "$1/.lock" 2>/dev/null || :
}

is_final() {
  case "$1" in SUCCEEDED | FAILED | FAILED_SETUP | CANCELLED) return 0 ;; esac
  return 1
}

# alive PID: the process exists and is not a zombie (orphans may never be reaped).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  if [ -r "/proc/$1/stat" ]; then
    _s=
    { IFS= read -r _s < "/proc/$1/stat"; } 2>/dev/null || :
    _s=${_s##*) }
    case "$_s" in Z* | X*) return 1 ;; esac
  fi
  return 0
}

# group_alive PGID: some live, non-zombie process is in the group.
group_alive() {
  _pg=$1
  if [ -r /proc/self/stat ]; then
    for _st in /proc/[0-9]*/stat; do
      _s=
      { IFS= read -r _s < "$_st"; } 2>/dev/null || [ -n "$_s" ] || continue
      _s=${_s##*) }
      _state=${_s%% *}
      _s=${_s#* }
      _s=${_s#* }
      [ "${_s%% *}" = "$_pg" ] || continue
      case "$_state" in Z | X) continue ;; esac
      return 0
    done
    return 1
  fi
  kill -0 -- "-$_pg" 2>/dev/null
}

signal_group() {
  kill -s "$1" -- "-$2" 2>/dev/null || kill -s "$1" "$2" 2>/dev/null || :
}

# end_group PGID: SIGTERM the group, SIGKILL whatever is left after SKY_CANCEL_GRACE seconds (5).
end_group() {
  signal_group TERM "$1"
  _grace=${SKY_CANCEL_GRACE:-5}
  _waited=0
  while group_alive "$1"; do
    if [ "$_waited" -ge $((_grace * 20)) ]; then
      signal_group KILL "$1"
      break
    fi
    nap
    _waited=$((_waited + 1))
  done
}

absolute() {
  (cd "$1" 2>/dev/null && pwd -P)
}

cmd_start() {
  [ $# -eq 1 ] || die "usage: sky-node.sh start JOBDIR"
  jd=$(absolute "$1") || die "no job directory $1"
  [ -f "$jd/run.sh" ] || die "$jd has no run.sh"
  if [ -s "$jd/pid" ]; then
    get "$jd/pid"
    echo
    return 0
  fi
  chmod 700 "$jd"
  if [ -f "$jd/env" ]; then chmod 600 "$jd/env"; fi
  if [ ! -f "$jd/status" ]; then put "$jd/status" PENDING; fi
  : >> "$jd/log"
  case "$0" in
    /*) script=$0 ;;
    *) script=$(pwd -P)/$0 ;;
  esac
  # SKY_NODE_SH may be two words ("busybox sh"): it is split on purpose below.
  sh_bin=${SKY_NODE_SH:-sh}
  if command -v setsid > /dev/null 2>&1; then
    setsid $sh_bin "$script" run "$jd" < /dev/null >> "$jd/log" 2>&1 &
  elif command -v perl > /dev/null 2>&1; then
    perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "exec: $!"' $sh_bin "$script" run "$jd" < /dev/null >> "$jd/log" 2>&1 &
  else
    $sh_bin "$script" run "$jd" < /dev/null >> "$jd/log" 2>&1 &
  fi
  _n=0
  while [ ! -s "$jd/pid" ]; do
    _n=$((_n + 1))
    [ "$_n" -le 200 ] || die "the runner for $jd did not start within 10 s; see $jd/log"
    nap
  done
  get "$jd/pid"
  echo
}

# set_running STATUS: record a non-final status, unless the job was cancelled meanwhile.
set_running() {
  lock "$jd"
  if [ "$(get "$jd/status")" = CANCELLED ]; then
    unlock "$jd"
    exit 0
  fi
  put "$jd/status" "$1"
  unlock "$jd"
}

# finish STATUS CODE: record how the job ended; a cancel recorded first wins.
finish() {
  lock "$jd"
  put "$jd/exit_code" "$2"
  date +%s > "$jd/ended_at" 2>/dev/null || :
  if [ "$(get "$jd/status")" != CANCELLED ]; then put "$jd/status" "$1"; fi
  unlock "$jd"
}

# step SCRIPT: the user's script in the work dir with the job's env, output appended to the log.
step() {
  (
    set -- "$sh_bin" "$1" "$jd/env"
    cd "$wd" || exit 1
    if [ -f "$3" ]; then
      set -a
      . "$3"
      set +a
    fi
    exec "$1" "$2"
  ) < /dev/null >> "$jd/log" 2>&1
}

cmd_run() {
  jd=$1
  trap '' HUP
  # The job's processes get the signal too; the runner stays to record how they ended.
  trap ':' TERM INT
  put "$jd/pid" "$$"
  date +%s > "$jd/started_at" 2>/dev/null || :
  node_root=$(absolute "$jd/../../..") || node_root=$jd
  wd=$node_root
  if [ -d "$node_root/sky_workdir" ]; then wd=$node_root/sky_workdir; fi
  sh_bin=${SKY_JOB_SHELL:-}
  if [ -z "$sh_bin" ]; then
    if command -v bash > /dev/null 2>&1; then sh_bin=bash; else sh_bin=sh; fi
  fi
  if [ -f "$jd/setup.sh" ]; then
    set_running SETTING_UP
    step "$jd/setup.sh"
    code=$?
    if [ "$code" -ne 0 ]; then
      finish FAILED_SETUP "$code"
      exit 0
    fi
  fi
  set_running RUNNING
  step "$jd/run.sh"
  code=$?
  if [ "$code" -eq 0 ]; then finish SUCCEEDED 0; else finish FAILED "$code"; fi
}

# report JOBDIR: print "STATUS EXIT_CODE"; a job whose runner is gone without a final status
# (the node stopped or rebooted) is recorded as FAILED.
report() {
  _jd=$1
  if [ ! -d "$_jd" ]; then
    echo "MISSING -"
    return 0
  fi
  _st=$(get "$_jd/status")
  [ -n "$_st" ] || _st=PENDING
  if ! is_final "$_st"; then
    _pid=$(get "$_jd/pid")
    if [ -n "$_pid" ] && ! alive "$_pid"; then
      lock "$_jd"
      _st=$(get "$_jd/status")
      if ! is_final "$_st"; then
        _st=FAILED
        put "$_jd/status" FAILED
        printf 'sky-node: the job runner (pid %s) ended without recording an exit code; the node was stopped or restarted\n' "$_pid" >> "$_jd/log"
      fi
      unlock "$_jd"
    fi
  fi
  _ec=$(get "$_jd/exit_code")
  echo "$_st ${_ec:--}"
}

cmd_status() {
  [ $# -ge 1 ] || die "usage: sky-node.sh status JOBDIR..."
  for _arg in "$@"; do report "$_arg"; done
}

cmd_cancel() {
  [ $# -ge 1 ] || die "usage: sky-node.sh cancel JOBDIR..."
  for _arg in "$@"; do
    if [ -d "$_arg" ]; then
      lock "$_arg"
      _st=$(get "$_arg/status")
      if ! is_final "$_st"; then put "$_arg/status" CANCELLED; fi
      unlock "$_arg"
      if ! is_final "$_st"; then
        _pid=$(get "$_arg/pid")
        if [ -n "$_pid" ]; then end_group "$_pid"; fi
      fi
    fi
    report "$_arg"
  done
}

cmd_gc() {
  [ $# -ge 1 ] && [ $# -le 2 ] || die "usage: sky-node.sh gc NODEROOT [DAYS]"
  _days=${2:-30}
  case "$_days" in '' | *[!0-9]*) die "DAYS must be a whole number, got $_days" ;; esac
  _removed=0
  for _jd in "$1/.sky/jobs"/*; do
    [ -d "$_jd" ] || continue
    is_final "$(get "$_jd/status")" || continue
    if [ -n "$(find "$_jd/status" -mtime +"$_days" 2>/dev/null)" ]; then
      rm -rf "$_jd" && _removed=$((_removed + 1))
    fi
  done
  echo "removed $_removed"
}

[ $# -ge 1 ] || die "usage: sky-node.sh start|status|cancel|gc|version ..."
_cmd=$1
shift
case "$_cmd" in
  start) cmd_start "$@" ;;
  run)
    [ $# -eq 1 ] || die "usage: sky-node.sh run JOBDIR"
    cmd_run "$1"
    ;;
  status) cmd_status "$@" ;;
  cancel) cmd_cancel "$@" ;;
  gc) cmd_gc "$@" ;;
  version) echo "$SKY_RUNTIME_VERSION" ;;
  *) die "unknown command $_cmd; expected start, status, cancel, gc or version" ;;
esac
