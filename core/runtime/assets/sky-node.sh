#!/bin/sh
# sky-node.sh: the sky node runtime (version: SKY_RUNTIME_VERSION below). Runs one rank of a job
# on this node, detached from whoever started it, so the job keeps running (and its log and exit
# code are kept here) when the daemon or its connection goes away. Needs a POSIX shell and coreutils; uses setsid when present.
#
#   sh sky-node.sh start  JOBDIR JOURNAL    start the rank; prints the runner's pid (its process group)
#   sh sky-node.sh status JOBDIR...         one line per rank: "STATUS EXIT_CODE" (EXIT_CODE "-" until known)
#   sh sky-node.sh cancel JOBDIR...         end the rank's whole process group; status CANCELLED
#   sh sky-node.sh follow JOURNAL OFFSET    print JOURNAL from byte OFFSET on, then follow it (tail -f)
#   sh sky-node.sh gc NODEROOT [DAYS]       remove finished ranks whose status is older than DAYS (30)
#   sh sky-node.sh launcher                 start ranks read from stdin, two lines each (JOBDIR, JOURNAL),
#                                           answering one line each: the pid, or "! " and why not
#   sh sky-node.sh version                  the runtime protocol version
#
# JOBDIR is NODEROOT/.sky/jobs/NAME, one per rank (NAME ends in -r<rank>), and holds: env
# (KEY='value' lines), setup.sh (optional), run.sh, and, written here: log (stdout+stderr of setup
# then run), pid, state and status. A JOBDIR that does not exist reports MISSING.
#
# state is append-only, one line per change: "SETTING_UP", "RUNNING", "SUCCEEDED 0", "FAILED 7",
# "FAILED_SETUP 3", "CANCELLED" (from cancel), "FAILED -" (the runner vanished). The first final
# line wins (so a cancel recorded before the runner's end stays CANCELLED, and an end recorded
# before a cancel stays); the exit code is the runner's. Every writer appends one short line with
# one write, so concurrent writers need no lock. status holds the current status as one line, for
# readers that only look there (drivers stopping a node).
#
# JOURNAL (NODEROOT/.sky/events/<node>.log) is the node's event journal, shared by every rank
# started with it: the runner appends "NAME RANK STATUS EXIT_CODE" for each phase (SETTING_UP,
# RUNNING) and for its end (a final status and the exit code), each line with a single append, so
# lines of concurrent runners never interleave. The daemon follows it instead of polling.
#
# setup.sh and run.sh run in NODEROOT/sky_workdir (or NODEROOT), under SKY_JOB_SHELL (default:
# bash when installed, else sh), with the variables of env exported. bash runs them as an
# interactive shell that reads ~/.bashrc first (SkyPilot's `bash -i`); sh reads no rc file. The
# runner uses shell builtins wherever it can: per rank it forks only the job's own shell, one
# chmod and the command substitution that waits for the runner to detach.
set -u
SKY_RUNTIME_VERSION=4

die() {
  printf 'sky-node: %s\n' "$*" >&2
  exit 2
}

# get FILE: _line is the first line of FILE, or empty.
get() {
  _line=
  if [ -r "$1" ]; then { IFS= read -r _line < "$1"; } 2>/dev/null || :; fi
}

nap() {
  sleep 0.05 2>/dev/null || sleep 1
}

is_final() {
  case "$1" in SUCCEEDED | FAILED | FAILED_SETUP | CANCELLED) return 0 ;; esac
  return 1
}

# effective JOBDIR: _st and _ec from JOBDIR/state (see above). No state yet: PENDING; a rank
# started by version 1 has no state but a status and an exit_code file of one line each.
effective() {
  _st=
  _ec=
  _fin=
  if [ ! -f "$1/state" ] && { [ -f "$1/exit_code" ] || [ -f "$1/started_at" ]; }; then
    get "$1/status"
    _st=${_line:-PENDING}
    get "$1/exit_code"
    _ec=$_line
    return 0
  fi
  if [ -r "$1/state" ]; then
    while read -r _s _c; do
      case "$_s" in
        SUCCEEDED | FAILED | FAILED_SETUP | CANCELLED)
          [ -n "$_fin" ] || _fin=$_s
          case "${_c:-}" in '' | *[!0-9]*) ;; *) [ -n "$_ec" ] || _ec=$_c ;; esac
          ;;
        ?*) _st=$_s ;;
      esac
    done < "$1/state"
  fi
  [ -z "$_fin" ] || _st=$_fin
  [ -n "$_st" ] || _st=PENDING
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
    for _stf in /proc/[0-9]*/stat; do
      _s=
      { IFS= read -r _s < "$_stf"; } 2>/dev/null || [ -n "$_s" ] || continue
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

# absolute PATH: _abs is PATH made absolute against the current directory (no fork).
absolute() {
  case "$1" in
    /*) _abs=$1 ;;
    *) _abs=$PWD/$1 ;;
  esac
  while :; do
    case "$_abs" in */) _abs=${_abs%/} ;; *) break ;; esac
  done
}

cmd_start() {
  [ $# -eq 2 ] || die "usage: sky-node.sh start JOBDIR JOURNAL"
  absolute "$1"
  jd=$_abs
  [ -d "$jd" ] || die "no job directory $1"
  [ -f "$jd/run.sh" ] || die "$jd has no run.sh"
  absolute "$2"
  journal=$_abs
  if [ -s "$jd/pid" ]; then
    get "$jd/pid"
    printf '%s\n' "$_line"
    return 0
  fi
  # The launcher's caller made the directory private already (one process fewer per rank).
  [ -n "${_private:-}" ] || chmod 700 "$jd"
  [ -d "${journal%/*}" ] || mkdir -p "${journal%/*}" || die "cannot create the journal directory ${journal%/*}"
  if [ ! -f "$jd/status" ]; then printf 'PENDING\n' > "$jd/status"; fi
  : >> "$jd/log"
  absolute "$0"
  script=$_abs
  # SKY_NODE_SH may be two words ("busybox sh"): it is split on purpose below. The runner writes
  # its pid to fd 3 and closes it once it runs in its own session, so the command substitution
  # returns only when the runner no longer depends on whoever started it.
  sh_bin=${SKY_NODE_SH:-sh}
  if command -v setsid > /dev/null 2>&1; then
    _pid=$(setsid $sh_bin "$script" run "$jd" "$journal" 3>&1 < /dev/null >> "$jd/log" 2>&1 &)
  elif command -v perl > /dev/null 2>&1; then
    _pid=$(perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or die "exec: $!"' $sh_bin "$script" run "$jd" "$journal" 3>&1 < /dev/null >> "$jd/log" 2>&1 &)
  else
    _pid=$($sh_bin "$script" run "$jd" "$journal" 3>&1 < /dev/null >> "$jd/log" 2>&1 &)
  fi
  [ -n "$_pid" ] || die "the runner for $jd did not start; see $jd/log"
  printf '%s\n' "$_pid" > "$jd/pid"
  printf '%s\n' "$_pid"
}

# launcher: start ranks as start does, one after another, for as long as stdin stays open. Each
# request is two lines, JOBDIR then JOURNAL (absolute paths; the caller made JOBDIR private);
# each answer is one line, in order: the runner's pid, or "! " and why the rank did not start.
cmd_launcher() {
  [ $# -eq 0 ] || die "usage: sky-node.sh launcher"
  _private=1
  while IFS= read -r _ljd && IFS= read -r _ljn; do
    if _lout=$(cmd_start "$_ljd" "$_ljn" 2>&1); then
      printf '%s\n' "$_lout"
    else
      printf '! %s\n' "$(printf '%s' "$_lout" | tr '\n' ' ')"
    fi
  done
}

# event STATUS CODE: one line to the node's journal.
event() {
  printf '%s %s %s %s\n' "$name" "$rank" "$1" "$2" >> "$journal"
}

# phase STATUS: record a non-final status; false (after telling the journal) when the rank was cancelled meanwhile.
phase() {
  effective "$jd"
  if is_final "$_st"; then
    event "$_st" "${_ec:--}"
    return 1
  fi
  printf '%s\n' "$1" >> "$jd/state"
  printf '%s\n' "$1" > "$jd/status"
  event "$1" -
}

# finish STATUS CODE: record how the rank ended (a cancel recorded first wins) and tell the journal.
finish() {
  printf '%s %s\n' "$1" "$2" >> "$jd/state"
  effective "$jd"
  printf '%s\n' "$_st" > "$jd/status"
  event "$_st" "${_ec:--}"
}

# step SCRIPT: the user's script in the work dir with the job's env, output appended to the log.
# A cancel appends to state before it signals the group, so the step, once forked (and so in
# reach of the signal), looks at state once more: a cancel that came first is never missed.
step() {
  (
    effective "$jd"
    if is_final "$_st"; then exit 143; fi
    cd "$wd" || exit 1
    if [ -f "$jd/env" ]; then
      set -a
      . "$jd/env"
      set +a
    fi
    if [ "$sh_bin" = bash ]; then
      # As SkyPilot: an interactive bash, so ~/.bashrc (conda init, exports setup appended there)
      # reaches the step. It starts with stderr on /dev/null, where its job-control warnings (no
      # tty) go; the rc file below puts stderr back before anything of the user's runs. The
      # task's env is applied again after ~/.bashrc, so the task's values win over the rc's.
      exec bash --rcfile "$jd/bashrc" -i -c 'set -a; . "$1"; set +a; . "$0"' "$1" "$jd/env" 3>&2 2> /dev/null
    fi
    exec $sh_bin "$1"
  ) < /dev/null >> "$jd/log" 2>&1
}

# bash_rc: the rc file of an interactive job bash ($1 there is the job's env file). An
# interactive bash ignores SIGTERM, so it gets a trap: a cancel ends the step instead of only the
# command that was running. A cancel that came while bash started (before the trap; its SIGTERM
# ignored) is in state already, since cancel appends there before it signals: read it once.
bash_rc() {
  printf '%s\n' \
    '# Written by sky-node.sh: the job step'"'"'s bash rc file.' \
    'exec 2>&3 3>&-' \
    "trap 'exit 143' TERM" \
    'while IFS= read -r _sky_state; do case $_sky_state in CANCELLED*) exit 143 ;; esac; done < "${1%/*}/state"' \
    'unset _sky_state' \
    'if [ -f ~/.bashrc ]; then . ~/.bashrc; fi' > "$jd/bashrc"
}

cmd_run() {
  jd=$1
  journal=$2
  # Detached by now (setsid ran before this shell): tell start, which waits for fd 3 to close.
  { printf '%s\n' "$$" >&3 && exec 3>&-; } 2>/dev/null || :
  trap '' HUP
  # The job's processes get the signal too; the runner stays to record how they ended.
  trap ':' TERM INT
  name=${jd##*/}
  rank=${name##*-r}
  case "$rank" in '' | *[!0-9]*) rank=0 ;; esac
  node_root=${jd%/.sky/jobs/*}
  wd=$node_root
  if [ -d "$node_root/sky_workdir" ]; then wd=$node_root/sky_workdir; fi
  sh_bin=${SKY_JOB_SHELL:-}
  if [ -z "$sh_bin" ]; then
    if command -v bash > /dev/null 2>&1; then sh_bin=bash; else sh_bin=sh; fi
  fi
  if [ "$sh_bin" = bash ]; then bash_rc; fi
  if [ -f "$jd/setup.sh" ]; then
    phase SETTING_UP || exit 0
    step "$jd/setup.sh"
    code=$?
    if [ "$code" -ne 0 ]; then
      finish FAILED_SETUP "$code"
      exit 0
    fi
  fi
  phase RUNNING || exit 0
  step "$jd/run.sh"
  code=$?
  if [ "$code" -eq 0 ]; then finish SUCCEEDED 0; else finish FAILED "$code"; fi
}

# report JOBDIR: print "STATUS EXIT_CODE"; a rank whose runner is gone without a final status
# (the node stopped or rebooted) is recorded as FAILED.
report() {
  absolute "$1"
  _jd=$_abs
  if [ ! -d "$_jd" ]; then
    echo "MISSING -"
    return 0
  fi
  effective "$_jd"
  if ! is_final "$_st"; then
    get "$_jd/pid"
    if [ -n "$_line" ] && ! alive "$_line"; then
      # Appended after the runner is gone: an end it recorded before exiting still wins.
      printf 'FAILED -\n' >> "$_jd/state"
      effective "$_jd"
      if [ "$_st" = FAILED ] && [ -z "$_ec" ]; then
        printf 'FAILED\n' > "$_jd/status"
        printf 'sky-node: the job runner (pid %s) ended without recording an exit code; the node was stopped or restarted\n' "$_line" >> "$_jd/log"
      fi
    fi
  fi
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
      effective "$_arg"
      if ! is_final "$_st"; then
        printf 'CANCELLED\n' >> "$_arg/state"
        effective "$_arg"
        if [ "$_st" = CANCELLED ]; then
          printf 'CANCELLED\n' > "$_arg/status"
          get "$_arg/pid"
          if [ -n "$_line" ]; then end_group "$_line"; fi
        fi
      fi
    fi
    report "$_arg"
  done
}

cmd_follow() {
  [ $# -eq 2 ] || die "usage: sky-node.sh follow JOURNAL OFFSET"
  case "$2" in '' | *[!0-9]*) die "OFFSET must be a whole number, got $2" ;; esac
  [ -d "${1%/*}" ] || mkdir -p "${1%/*}" || die "cannot create the journal directory ${1%/*}"
  : >> "$1" || die "cannot open the journal $1"
  exec tail -c "+$(($2 + 1))" -f "$1"
}

cmd_gc() {
  [ $# -ge 1 ] && [ $# -le 2 ] || die "usage: sky-node.sh gc NODEROOT [DAYS]"
  _days=${2:-30}
  case "$_days" in '' | *[!0-9]*) die "DAYS must be a whole number, got $_days" ;; esac
  _removed=0
  for _jd in "$1/.sky/jobs"/*; do
    [ -d "$_jd" ] || continue
    effective "$_jd"
    is_final "$_st" || continue
    if [ -n "$(find "$_jd/status" -mtime +"$_days" 2>/dev/null)" ]; then
      rm -rf "$_jd" && _removed=$((_removed + 1))
    fi
  done
  echo "removed $_removed"
}

[ $# -ge 1 ] || die "usage: sky-node.sh start|status|cancel|follow|gc|launcher|version ..."
_cmd=$1
shift
case "$_cmd" in
  start) cmd_start "$@" ;;
  run)
    [ $# -eq 2 ] || die "usage: sky-node.sh run JOBDIR JOURNAL"
    cmd_run "$1" "$2"
    ;;
  status) cmd_status "$@" ;;
  cancel) cmd_cancel "$@" ;;
  follow) cmd_follow "$@" ;;
  gc) cmd_gc "$@" ;;
  launcher) cmd_launcher "$@" ;;
  version) echo "$SKY_RUNTIME_VERSION" ;;
  *) die "unknown command $_cmd; expected start, status, cancel, follow, gc, launcher or version" ;;
esac
