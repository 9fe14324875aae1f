#!/usr/bin/env node
/**
 * What the job shell costs per job: the node runtime (core/runtime/assets/sky-node.sh) runs N
 * one-step jobs (`run: true`) one after another on a temp node directory, under each job shell:
 *
 *   sh          SKY_JOB_SHELL=sh: POSIX sh, no rc file (a node without bash)
 *   bash script SKY_JOB_SHELL=/bin/bash: `bash run.sh`, not interactive, so it reads no rc
 *               file (the job shell before it matched SkyPilot), with the heavy rc present
 *   bash, no rc interactive bash (SkyPilot's `bash -i`), the node has no ~/.bashrc
 *   bash, empty an empty ~/.bashrc
 *   bash, heavy a ~/.bashrc in the shape people have: Debian's default one (history, shopt,
 *               lesspipe, dircolors, aliases) plus a conda-style hook that runs python3 once
 *
 * Each variant runs under bench/lib/reaper.py, so the CPU of every process of a job (the start
 * command, the detached runner, the job's shell and what its rc file runs, the wait for the
 * runner) is counted, also of processes too short-lived to be sampled. Reported: CPU ms per job
 * (user + system), and per job minus the sh variant. Figures are reported, never asserted.
 *
 *   node bench/job-shell.mjs [--jobs N] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const here = import.meta.dirname;
const repo = resolve(here, '..');
const script = join(repo, 'core/runtime/assets/sky-node.sh');
const reaper = join(here, 'lib/reaper.py');

const args = process.argv.slice(2);
const jobsAt = args.indexOf('--jobs');
const JOBS = jobsAt >= 0 ? Number(args[jobsAt + 1]) : 40;
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`--jobs wants a positive whole number, got ${args[jobsAt + 1]}`);

const HEAVY_RC = `# Debian's default ~/.bashrc, in short, plus a conda-style hook.
case $- in *i*) ;; *) return ;; esac
HISTCONTROL=ignoreboth
shopt -s histappend
HISTSIZE=1000
HISTFILESIZE=2000
shopt -s checkwinsize
[ -x /usr/bin/lesspipe ] && eval "$(SHELL=/bin/sh lesspipe)"
if [ -x /usr/bin/dircolors ]; then
  eval "$(dircolors -b)"
  alias ls='ls --color=auto'
  alias grep='grep --color=auto'
fi
alias ll='ls -alF'
alias la='ls -A'
# >>> conda initialize >>> (conda's hook is a python program printing shell code)
eval "$(/usr/bin/python3 -c 'print("export CONDA_SHLVL=1 CONDA_DEFAULT_ENV=base")')"
# <<< conda initialize <<<
export PATH="$HOME/.local/bin:$PATH"
`;

const VARIANTS = [
  { name: 'sh', shell: 'sh', rc: undefined },
  { name: 'bash script (no -i)', shell: '/bin/bash', rc: HEAVY_RC },
  { name: 'bash, no rc', shell: undefined, rc: undefined },
  { name: 'bash, empty ~/.bashrc', shell: undefined, rc: '' },
  { name: 'bash, heavy ~/.bashrc', shell: undefined, rc: HEAVY_RC },
];

/** The jobs of one variant, one after another: write the job's files, start it, wait for its runner. */
function loopScript(root, jobs) {
  return `set -e
cd ${JSON.stringify(root)}
i=0
while [ "$i" -lt ${jobs} ]; do
  i=$((i + 1))
  jd=${JSON.stringify(root)}/.sky/jobs/job-$i-r0
  mkdir -p "$jd"
  printf "HOME='%s'\\n" ${JSON.stringify(root)} > "$jd/env"
  printf 'true\\n' > "$jd/run.sh"
  pid=$(sh .sky/sky-node.sh start "$jd" .sky/events/bench.log)
  tail --pid="$pid" -s 0.01 -f /dev/null
  read -r st < "$jd/status"
  [ "$st" = SUCCEEDED ] || { echo "job $i ended $st: $(cat "$jd/log")" >&2; exit 1; }
done
`;
}

/** CPU ms (user + system) of everything `reaper.py sh loop` ran, from the shell's `times`. */
function measure(variant, jobs) {
  const root = mkdtempSync(join(tmpdir(), 'sky-job-shell-'));
  try {
    mkdirSync(join(root, '.sky/events'), { recursive: true });
    copyFileSync(script, join(root, '.sky/sky-node.sh'));
    if (variant.rc !== undefined) writeFileSync(join(root, '.bashrc'), variant.rc);
    writeFileSync(join(root, 'loop.sh'), loopScript(root, jobs));
    const env = { ...process.env, HOME: root };
    if (variant.shell !== undefined) env.SKY_JOB_SHELL = variant.shell;
    else delete env.SKY_JOB_SHELL;
    const out = spawnSync('/bin/sh', ['-c', `/usr/bin/python3 "$1" /bin/sh "$2" || exit 1; times`, 'sh', reaper, join(root, 'loop.sh')], { env, encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`${variant.name}: ${out.stderr}`);
    const children = out.stdout.trim().split('\n').at(-1).trim().split(/\s+/);
    const ms = (t) => {
      const m = /^(\d+)m([\d.]+)s$/.exec(t);
      if (!m) throw new Error(`cannot read times output: ${out.stdout}`);
      return (Number(m[1]) * 60 + Number(m[2])) * 1000;
    };
    return ms(children[0]) + ms(children[1]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// The fixed cost (python3 for the reaper, the loop's shell) is the 0-job figure of each variant.
const rows = VARIANTS.map((variant) => {
  const fixed = measure(variant, 0);
  const total = measure(variant, JOBS);
  return { variant: variant.name, cpuMsPerJob: Math.round(((total - fixed) / JOBS) * 10) / 10 };
});
const base = rows[0].cpuMsPerJob;
console.log(`job shell cost, ${JOBS} jobs per variant (load ${loadavg()[0].toFixed(2)}):`);
console.log('  variant                  CPU ms/job   vs sh');
for (const r of rows) {
  const delta = Math.round((r.cpuMsPerJob - base) * 10) / 10;
  console.log(`  ${r.variant.padEnd(24)} ${String(r.cpuMsPerJob).padStart(10)}   ${delta >= 0 ? '+' : ''}${delta}`);
}
if (jsonFile !== undefined) {
  mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify({ jobs: JOBS, rows }, null, 2)}\n`);
}
