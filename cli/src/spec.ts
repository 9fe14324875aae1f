/**
 * Every command, action and option the CLI has. cac matches one-word commands only, so
 * - a noun with actions (`api`, `daemon`) is one cac command (`api [action] [...args]`)
 *   carrying the options of all its actions, and
 * - a plain command (`launch`, `status`, …) is one cac command (`launch [...args]`).
 * This table says which command accepts which option, and drives help and validation.
 */
export const OPTIONS = {
  all: { flags: '-a, --all', help: 'Include finished requests' },
  allUsers: { flags: '-u, --all-users', help: "Include every user's requests" },
  limit: { flags: '-l, --limit <n>', help: 'Show at most N requests' },
  output: { flags: '-o, --output <format>', help: 'Output format: text (default) or json' },
  follow: { flags: '--follow', help: 'Keep streaming until the request finishes (default); --no-follow prints what is there and returns' },
  serverLogs: { flags: '--server-logs', help: "Stream the API server's own log instead of a request's" },
  yes: { flags: '-y, --yes', help: 'Do not ask for confirmation' },
  sleep: { flags: '--sleep <seconds>', help: 'Seconds the ping request sleeps, logging once a second' },
  lane: { flags: '--lane <lane>', help: 'Lane to run in: short (default) or long' },
  fail: { flags: '--fail <message>', help: 'Make the request fail with this message' },
  async: { flags: '--async', help: 'Print the request ID and return without waiting' },
  host: { flags: '--host <host>', help: 'Address to listen on' },
  port: { flags: '--port <port>', help: 'Port to listen on' },
  config: { flags: '--config <file>', help: 'Daemon config file (see sky.config.example.yaml)' },
  auth: { flags: '--auth <mode>', help: 'Authentication: none (loopback, this OS account only), basic, token or proxy; the first start of basic/token needs SKY_ADMIN_USERNAME and SKY_ADMIN_PASSWORD_FILE (or SKY_ADMIN_PASSWORD)' },
  foreground: { flags: '--foreground', help: 'Run in this terminal instead of in the background' },
  tlsCert: { flags: '--tls-cert <file>', help: 'Serve HTTPS with this PEM certificate (chain) file; needs --tls-key (same as listen.tls.cert)' },
  tlsKey: { flags: '--tls-key <file>', help: 'The PEM private key of --tls-cert, readable only by the daemon (same as listen.tls.key)' },
  caFile: { flags: '--ca-file <file>', help: "PEM bundle of the CA that signed an https:// server's certificate (saved as api_server.ca_file)" },
  // Clusters and jobs (SkyPilot's flags).
  cluster: { flags: '-c, --cluster <name>', help: 'Cluster to launch on: reused if it exists, created if not (default: a generated name)' },
  dryrun: { flags: '--dryrun', help: 'Show the plan (driver, nodes, resources) without launching anything' },
  detach: { flags: '-d, --detach-run', help: 'Return once the job is submitted instead of streaming its log' },
  idleMinutesToAutostop: {
    flags: '-i, --idle-minutes-to-autostop <minutes>',
    help: 'Stop the cluster after this many idle minutes (no pending or running job)',
  },
  idleMinutes: { flags: '-i, --idle-minutes <minutes>', help: 'Idle minutes before the cluster is stopped (default 5)' },
  down: { flags: '--down', help: 'Tear the cluster down instead of stopping it when it has been idle' },
  cancel: { flags: '--cancel', help: 'Cancel the autostop/autodown set on the cluster' },
  name: { flags: '-n, --name <name>', help: 'Task name (overrides name: in the YAML)' },
  workdir: { flags: '--workdir <dir>', help: 'Local directory uploaded (honouring .skyignore) and synced to ~/sky_workdir on every node (overrides workdir:)' },
  infra: { flags: '--infra <infra>', help: 'Where to run, e.g. local or ssh/pool-a (overrides resources.infra)' },
  cpus: { flags: '--cpus <cpus>', help: "vCPUs per node, e.g. 4 or 4+ (overrides resources.cpus)" },
  memory: { flags: '--memory <memory>', help: 'Memory per node in GB, e.g. 16 or 16+ (overrides resources.memory)' },
  gpus: { flags: '--gpus <gpus>', help: 'Accelerators per node, e.g. H100:8 (overrides resources.accelerators)' },
  numNodes: { flags: '--num-nodes <n>', help: 'Number of nodes (overrides num_nodes)' },
  env: { flags: '--env <NAME=VALUE>', help: 'Environment variable for the task; NAME alone takes your value (repeatable)' },
  envFile: { flags: '--env-file <file>', help: 'Read environment variables from a dotenv file (--env wins)' },
  secret: { flags: '--secret <NAME[=VALUE]>', help: 'Secret for the task, redacted wherever shown; NAME alone takes your value (repeatable)' },
  useSpot: { flags: '--use-spot', help: 'Ask for spot capacity (same as resources.use_spot: true)' },
  instanceType: { flags: '--instance-type <type>', help: 'Instance type (same as resources.instance_type)' },
  imageId: { flags: '--image-id <id>', help: 'Image to boot or run in, e.g. docker:ubuntu:22.04 (same as resources.image_id)' },
  cloud: { flags: '--cloud <cloud>', help: 'Infra to run on (SkyPilot\'s older spelling of --infra; same as infra: CLOUD)' },
  region: { flags: '--region <region>', help: 'Region (or, for ssh, the node pool) of the infra (same as infra: CLOUD/REGION)' },
  zone: { flags: '--zone <zone>', help: 'Zone of the infra (same as infra: CLOUD/REGION/ZONE)' },
  ports: { flags: '--ports <ports>', help: 'Ports to open, e.g. 8080 or 8000-8010 (repeatable; same as resources.ports)' },
  fast: { flags: '--fast', help: 'On a cluster that is already UP: skip setup and file_mounts, sync the workdir and run' },
  noSetup: { flags: '--no-setup', help: 'Skip the setup commands of the task' },
  retryUntilUp: { flags: '--retry-until-up', help: 'When no infra has capacity, keep retrying (backing off to a try a minute) until it has; Ctrl-C stops' },
  ip: { flags: '--ip', help: "Print the head node's address of the one cluster named" },
  endpoints: { flags: '--endpoints', help: 'Print the endpoints (head address:port) of the ports of the one cluster named' },
  verbose: { flags: '-v, --verbose', help: 'Show more: an INFRA column' },
  syncDown: { flags: '--sync-down', help: "Copy the job's log (one file per node) to ~/sky_logs/CLUSTER/JOB_ID/ instead of streaming it" },
  refresh: { flags: '-r, --refresh', help: 'Ask the drivers for the real state of the clusters first' },
  skipFinished: { flags: '-s, --skip-finished', help: 'Show only pending and running jobs' },
  status: { flags: '--status', help: "Print the job's status and exit 0 if it SUCCEEDED (100 failed, 101 not finished, 102 not found, 103 cancelled)" },
  tail: { flags: '--tail <n>', help: 'Only the last N lines of each node before following' },
  controller: { flags: '--controller', help: "Stream the controller's log (what sky decided and did for the job) instead of the task's" },
  // Services (sky serve).
  mode: { flags: '--mode <mode>', help: 'How replicas of the new version replace the old: rolling (default) or blue_green' },
  purge: { flags: '--purge', help: 'Forget the service even when tearing a replica down fails' },
  loadBalancer: { flags: '--load-balancer', help: "Stream the load balancer's log" },
  serviceEndpoint: { flags: '--endpoint', help: "Print only the endpoint of the one service named" },
  off: { flags: '--off', help: 'Open the endpoint again: no token needed' },
  // The team server: login, users and tokens.
  endpoint: { flags: '-e, --endpoint <url>', help: 'API server URL, e.g. http://user:password@host:46580 (asked for when missing)' },
  token: { flags: '--token <token>', help: 'Log in with this bearer token instead of a password' },
  password: { flags: '--password <password>', help: 'The password (asked for, twice, on a terminal when missing)' },
  currentPassword: { flags: '--current-password <password>', help: 'Your current password: needed to change your own (asked for on a terminal when missing)' },
  open: { flags: '--open', help: 'Also open the link in the default web browser' },
  role: { flags: '--role <role>', help: 'Role of the new user: user (default) or admin' },
  expiresInDays: { flags: '--expires-in-days <days>', help: 'Days until the token expires (default: never)' },
  user: { flags: '--user <name>', help: "Another user's tokens (admins)" },
  transferTo: { flags: '--transfer-to <user>', help: 'Give their clusters to this user (one of --transfer-to and --down is needed when they own clusters)' },
  // Workspaces.
  workspace: { flags: '--workspace <name>', help: 'Workspace to run in (default: active_workspace in ~/.sky/config.yaml, else default)' },
  private: { flags: '--private', help: 'Only its allowed users (and admins) may use the workspace' },
  public: { flags: '--public', help: 'Anyone may use the workspace' },
  allow: { flags: '--allow <user>', help: 'A user allowed in the private workspace (repeatable; replaces the list)' },
  eventKind: { flags: '--kind <kind>', help: 'A kind of change to deliver: cluster, job, managedJob, service or request (repeatable; default all)' },
  onStatus: { flags: '--on-status <status>', help: 'A status to deliver, e.g. SUCCEEDED, FAILED, UP, DELETED (repeatable; default all)' },
  signingSecret: { flags: '--signing-secret <secret>', help: 'The HMAC key (at least 16 characters); default: one is generated and shown once' },
  workspaceInfra: { flags: '--infra <infra>', help: 'Infra the workspace may use: a driver (ssh) or driver/pool (repeatable; default: any)' },
  importFile: { flags: '--import <file>', help: 'First load this state file (sky api export) into the configured store, which must be empty; then serve' },
  gzip: { flags: '--gzip', help: 'Compress the state file with gzip (the default when FILE ends in .gz)' },
  since: { flags: '--since <time>', help: 'Only entries at or after this time: an ISO date or time, or relative like 30m, 1h, 2d, 1w' },
  until: { flags: '--until <time>', help: 'Up to this time (not included): an ISO date or time, or relative like 1d (default: now)' },
} as const;

export type OptionKey = keyof typeof OPTIONS;

/** One runnable command: an action of a noun (`sky api status`) or a plain command (`sky status`). */
export interface ActionSpec {
  readonly name: string;
  /** Positional arguments as shown in help, e.g. "[IDS...]". */
  readonly args: string;
  /** How many positional arguments it takes at least (default 0) and at most. */
  readonly minArgs?: number;
  readonly maxArgs: number;
  readonly summary: string;
  readonly options: readonly OptionKey[];
  /** Where an option means something more specific for this command than its general help. */
  readonly optionHelp?: Partial<Record<OptionKey, string>>;
  /** Example invocations shown in the command's help. */
  readonly examples?: readonly string[];
}

/** A noun with actions: `sky api <action>`. */
export interface NounSpec {
  readonly name: string;
  readonly summary: string;
  readonly actions: readonly ActionSpec[];
}

/** A command without actions, listed under a heading of `sky --help`. */
export interface CommandSpec extends ActionSpec {
  readonly section: string;
}

const many = Number.POSITIVE_INFINITY;

export const API: NounSpec = {
  name: 'api',
  summary: 'Talk to the API server: requests, their logs, the server itself',
  actions: [
    { name: 'info', args: '', maxArgs: 0, summary: 'Show the API server in use, its health and who you are', options: ['output'] },
    {
      name: 'status',
      args: '[IDS...]',
      maxArgs: many,
      summary: 'List requests (default: your PENDING and RUNNING ones)',
      options: ['all', 'allUsers', 'limit', 'output'],
    },
    {
      name: 'logs',
      args: '[ID]',
      maxArgs: 1,
      summary: 'Stream the log of a request (default: your newest one)',
      options: ['follow', 'serverLogs'],
      optionHelp: { serverLogs: "Stream the API server's own log instead of a request's (admins)" },
    },
    {
      name: 'cancel',
      args: '[IDS...]',
      maxArgs: many,
      summary: 'Cancel requests (running ones are aborted)',
      options: ['all', 'allUsers', 'yes'],
      optionHelp: { all: 'Cancel all your active requests', allUsers: "With -a: every user's active requests (admins)" },
    },
    {
      name: 'ping',
      args: '',
      maxArgs: 0,
      summary: 'Submit a diagnostic request, stream its log and print the answer',
      options: ['sleep', 'lane', 'fail', 'async'],
      optionHelp: { sleep: 'Seconds the ping request sleeps, logging once a second (more than 5: admins)' },
    },
    {
      name: 'start',
      args: '',
      maxArgs: 0,
      summary: 'Start the local API server (other commands start it when needed)',
      options: ['host', 'port', 'foreground'],
    },
    { name: 'stop', args: '', maxArgs: 0, summary: 'Stop the local API server, letting running requests drain', options: [] },
    {
      name: 'login',
      args: '',
      maxArgs: 0,
      summary: 'Check credentials against an API server and save it (and them) to ~/.sky/config.yaml',
      options: ['endpoint', 'token', 'caFile'],
      examples: [
        'sky api login -e http://alice:secret@sky.example.com:46580',
        'sky api login -e http://sky.example.com:46580 --token sky_…',
        'sky api login -e https://alice:secret@sky.example.com:46580 --ca-file team-ca.pem',
      ],
    },
    { name: 'logout', args: '', maxArgs: 0, summary: 'Forget the saved API server endpoint and token', options: [] },
    {
      name: 'audit',
      args: '',
      maxArgs: 0,
      summary: 'Show the audit log: who changed what, when, with which result (admins)',
      options: ['user', 'since', 'limit', 'output'],
      optionHelp: { user: 'Only entries of this user', limit: 'Show at most N entries (default 100)' },
      examples: ['sky api audit --since 1d', 'sky api audit --user alice --since 2026-01-31 -o json'],
    },
    {
      name: 'export',
      args: '[FILE]',
      maxArgs: 1,
      summary: "Write the whole state of the API server's store, from one point in time, to FILE or standard output (admins); load it into an empty store with sky daemon start --import FILE",
      options: ['gzip'],
      examples: ['sky api export backup.jsonl.gz', 'sky api export > backup.jsonl'],
    },
    {
      name: 'events',
      args: '',
      maxArgs: 0,
      summary: 'Follow changes of clusters, jobs, managed jobs, services and requests as they happen (one line each: time, #seq, kind, key, status) until Ctrl-C',
      options: ['allUsers', 'since', 'output'],
      optionHelp: {
        allUsers: "Every user's changes you may list with -u (default: your own)",
        since: 'Resume after this feed position: the #SEQ of a change printed earlier (the feed has no index by time)',
        output: 'Output format: text (default) or json (one JSON object per line: seq, at, kind, key, status, record)',
      },
      examples: ['sky api events', 'sky api events -u -o json', 'sky api events --since 1234'],
    },
    {
      name: 'usage',
      args: '',
      maxArgs: 0,
      summary: 'Show node-, CPU- and GPU-hours of clusters and jobs over a period, by user and workspace (your own; -u: every user\'s, admins)',
      options: ['since', 'until', 'allUsers', 'output'],
      optionHelp: { since: 'Start of the period (required): an ISO date or time, or relative like 7d, 24h', allUsers: "Every user's usage (admins)" },
      examples: ['sky api usage --since 7d', 'sky api usage --since 2026-01-01 --until 2026-02-01 -u -o json'],
    },
  ],
};

export const USERS: NounSpec = {
  name: 'users',
  summary: 'Manage the users of a team API server and their tokens',
  actions: [
    { name: 'list', args: '', maxArgs: 0, summary: 'List the users', options: ['output'] },
    {
      name: 'create',
      args: 'NAME',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Create a user (admins)',
      options: ['password', 'role'],
      examples: ['sky users create alice', 'sky users create bob --role admin --password "$PW"'],
    },
    {
      name: 'delete',
      args: 'NAME',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Delete a user (admins): revoke their tokens, cancel their requests, and give their clusters to another user or tear them down',
      options: ['transferTo', 'down', 'yes'],
      optionHelp: { down: 'Tear their clusters down' },
      examples: ['sky users delete alice --transfer-to bob', 'sky users delete alice --down -y'],
    },
    { name: 'set-role', args: 'NAME ROLE', minArgs: 2, maxArgs: 2, summary: "Change a user's role to admin or user (admins)", options: [] },
    {
      name: 'reset-password',
      args: 'NAME',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Set a new password (admins for anyone; your own needs your current one)',
      options: ['password', 'currentPassword'],
    },
    {
      name: 'import',
      args: 'FILE.csv',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Create users from a CSV file of username,password,role lines (existing names are skipped)',
      options: [],
    },
    {
      name: 'token',
      args: 'create|list|revoke|rotate [ID]',
      minArgs: 1,
      maxArgs: 2,
      summary: 'Bearer tokens: create (the secret is shown once), list, revoke ID, rotate ID',
      options: ['name', 'expiresInDays', 'user', 'output'],
      optionHelp: { name: 'Name of the new token (default: cli)', user: "Another user's tokens (admins): create for them or list theirs" },
      examples: ['sky users token create --name ci --expires-in-days 90', 'sky users token list', 'sky users token revoke tok_123'],
    },
  ],
};

export const DAEMON: NounSpec = {
  name: 'daemon',
  summary: 'Run the API server for a team (on a shared machine)',
  actions: [
    {
      name: 'start',
      args: '',
      maxArgs: 0,
      summary: 'Start the API server in the background (or --foreground)',
      options: ['host', 'port', 'config', 'auth', 'tlsCert', 'tlsKey', 'foreground', 'importFile'],
    },
    { name: 'stop', args: '', maxArgs: 0, summary: 'Stop the API server on this machine', options: [] },
    { name: 'status', args: '', maxArgs: 0, summary: 'Show whether the API server on this machine runs (exit 1 if not)', options: [] },
  ],
};

export const SSH: NounSpec = {
  name: 'ssh',
  summary: 'Prepare and clean the hosts of SSH node pools (admins)',
  actions: [
    {
      name: 'up',
      args: '',
      maxArgs: 0,
      summary: 'Check every host of the SSH node pools and upload the node runtime to it',
      options: ['infra', 'async'],
      optionHelp: {
        infra: 'Only this pool: POOL or ssh/POOL (default: every pool)',
        async: 'Print the request ID and return without waiting',
      },
      examples: ['sky ssh up', 'sky ssh up --infra gpu-a'],
    },
    {
      name: 'down',
      args: '',
      maxArgs: 0,
      summary: 'Remove what sky put on the hosts (hosts held by clusters are left alone)',
      options: ['infra', 'async'],
      optionHelp: {
        infra: 'Only this pool: POOL or ssh/POOL (default: every pool)',
        async: 'Print the request ID and return without waiting',
      },
      examples: ['sky ssh down', 'sky ssh down --infra ssh/gpu-a'],
    },
  ],
};

export const WORKSPACE: NounSpec = {
  name: 'workspace',
  summary: 'Manage workspaces: which users and which infra each may use',
  actions: [
    { name: 'list', args: '', maxArgs: 0, summary: 'List the workspaces you may use (admins: all)', options: ['output'] },
    {
      name: 'create',
      args: 'NAME',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Create a workspace (admins)',
      options: ['private', 'allow', 'workspaceInfra'],
      examples: ['sky workspace create research --private --allow alice --allow bob', 'sky workspace create gpu --infra ssh/gpu-a'],
    },
    {
      name: 'update',
      args: 'NAME',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Change a workspace (admins); a given list replaces the old one',
      options: ['private', 'public', 'allow', 'workspaceInfra'],
      optionHelp: { workspaceInfra: 'Infra the workspace may use (repeatable; replaces the list; "any" lifts the restriction)' },
      examples: ['sky workspace update research --allow alice --allow carol', 'sky workspace update gpu --infra any'],
    },
    { name: 'delete', args: 'NAME', minArgs: 1, maxArgs: 1, summary: 'Delete a workspace that has no clusters (admins; never default)', options: ['yes'] },
    { name: 'webhooks', args: 'NAME', minArgs: 1, maxArgs: 1, summary: "List a workspace's webhooks (admins)", options: ['output'] },
    {
      name: 'webhook-add',
      args: 'NAME URL',
      minArgs: 2,
      maxArgs: 2,
      summary: "Send the workspace's changes to URL, signed (admins; the URL must be allowed by the daemon's webhooks.allow); prints the signing secret once",
      options: ['eventKind', 'onStatus', 'signingSecret', 'output'],
      examples: ['sky workspace webhook-add research https://ci.example.com/sky --kind job --on-status SUCCEEDED --on-status FAILED'],
    },
    { name: 'webhook-rm', args: 'NAME ID', minArgs: 2, maxArgs: 2, summary: 'Remove a webhook (admins); deliveries to it stop', options: [] },
    { name: 'webhook-log', args: 'NAME ID', minArgs: 2, maxArgs: 2, summary: "A webhook's last deliveries, newest first (admins)", options: ['output'] },
  ],
};

export const PLUGINS: NounSpec = {
  name: 'plugins',
  summary: "Driver plugins: list the daemon's, install new ones into its plugins directory, verify one you are writing",
  actions: [
    {
      name: 'list',
      args: '',
      maxArgs: 0,
      summary: 'List the configured plugins (id, package, version, plugin API range, status, load error) and those installed but not configured',
      options: ['output'],
      examples: ['sky plugins list', 'sky plugins list -o json'],
    },
    {
      name: 'install',
      args: 'PACKAGE | TARBALL...',
      minArgs: 1,
      maxArgs: 16,
      summary: "Install plugin packages into the daemon's plugins directory (admins): npm names, or absolute paths of npm pack tarballs on the daemon's machine; npm runs there with --ignore-scripts. Configure the driver and restart the daemon to load it",
      options: ['output'],
      examples: ['sky plugins install sky-driver-acme', 'sky plugins install sky-driver-acme@1.2.0', 'sky plugins install /srv/plugins/sky-driver-acme-1.2.0.tgz'],
    },
    {
      name: 'verify',
      args: 'PATH | NAME',
      minArgs: 1,
      maxArgs: 1,
      summary:
        "Check a plugin package on this machine, in a child process: manifest, exports, apiVersion against this sky's plugin API, config schema; with --config, also run the driver conformance suite against that configuration (it provisions and terminates real clusters: a cloud plugin's suite creates real resources)",
      options: ['config'],
      optionHelp: { config: 'A YAML or JSON file: the driver config block (or {config: BLOCK, conformance: {num_nodes, stops, tracks_capacity, infra}}) the conformance suite runs against' },
      examples: ['sky plugins verify ./sky-driver-acme', 'sky plugins verify ./sky-driver-acme --config verify.yaml', 'sky plugins verify sky-driver-acme'],
    },
  ],
};

/** The task flags of sky launch, sky exec and sky jobs launch: they override the task YAML. */
const TASK_OPTIONS = [
  'name',
  'workdir',
  'infra',
  'cloud',
  'region',
  'zone',
  'cpus',
  'memory',
  'gpus',
  'instanceType',
  'useSpot',
  'imageId',
  'ports',
  'numNodes',
  'env',
  'envFile',
  'secret',
] as const satisfies readonly OptionKey[];

export const JOBS: NounSpec = {
  name: 'jobs',
  summary: 'Managed jobs: sky provisions, runs, recovers and cleans up for you',
  actions: [
    {
      name: 'launch',
      args: 'TASK.yaml | COMMAND...',
      maxArgs: many,
      summary: 'Launch a managed job (a task, or a pipeline: YAML documents separated by ---) and stream its log',
      options: ['yes', 'detach', 'async', ...TASK_OPTIONS, 'workspace'],
      optionHelp: {
        name: "Name of the managed job (default: the pipeline's name, else the first task's); with one task, also the task's name",
        yes: 'Do not ask before launching',
        detach: 'Return once the managed job is submitted instead of streaming its log',
        async: 'Print the request ID and return as soon as the request is accepted',
      },
      examples: ['sky jobs launch -n train task.yaml', "sky jobs launch -y 'python train.py'", 'sky jobs launch -d --infra ssh/gpu-a pipeline.yaml'],
    },
    {
      name: 'queue',
      args: '',
      maxArgs: 0,
      summary: 'Show managed jobs, newest first (default: yours)',
      options: ['allUsers', 'all', 'skipFinished', 'refresh', 'output'],
      optionHelp: {
        allUsers: "Show every user's managed jobs, with a USER column",
        all: 'Show all details: WORKSPACE, INFRA/CLUSTER and the whole failure reason',
        skipFinished: 'Show only unfinished managed jobs',
        refresh: 'Accepted for compatibility: managed job statuses are always live',
        output: 'Output format: text (default) or json ({"jobs": [...]}, see the README)',
      },
      examples: ['sky jobs queue', 'sky jobs queue -u -s', 'sky jobs queue -o json'],
    },
    {
      name: 'cancel',
      args: '[IDS...]',
      maxArgs: many,
      summary: 'Cancel managed jobs by ID, by name (-n) or all of yours (-a); their clusters are torn down',
      options: ['name', 'all', 'allUsers', 'yes'],
      optionHelp: {
        name: 'Cancel the unfinished managed jobs of this name',
        all: 'Cancel all your unfinished managed jobs',
        allUsers: "With -a or -n: every user's (admins)",
      },
      examples: ['sky jobs cancel 3 4', 'sky jobs cancel -n train -y', 'sky jobs cancel -a -y'],
    },
    {
      name: 'logs',
      args: '[ID]',
      maxArgs: 1,
      summary: 'Stream the log of a managed job (default: your newest one) until it ends',
      options: ['follow', 'controller'],
      optionHelp: { follow: 'Keep streaming until the managed job ends (default); --no-follow prints what is there and returns' },
      examples: ['sky jobs logs', 'sky jobs logs 3 --no-follow', 'sky jobs logs --controller 3'],
    },
  ],
};

/** The task flags of sky serve up and update: those of sky launch but -n, which names the service. */
const SERVE_TASK_OPTIONS = TASK_OPTIONS.filter((o) => o !== 'name');

export const SERVE: NounSpec = {
  name: 'serve',
  summary: 'Services: a task on several replicas behind one load-balanced endpoint',
  actions: [
    {
      name: 'up',
      args: 'TASK.yaml',
      minArgs: 1,
      maxArgs: 1,
      summary: 'Start a service from a task YAML with a service section and print its endpoint',
      options: ['name', 'yes', 'async', ...SERVE_TASK_OPTIONS, 'workspace'],
      optionHelp: {
        name: 'Name of the service (default: generated); its replica clusters are NAME-1, NAME-2, …',
        yes: 'Do not ask before starting the service',
        async: 'Print the request ID and return as soon as the request is accepted',
      },
      examples: ['sky serve up -n llm service.yaml', 'sky serve up -y --env MODEL=small service.yaml'],
    },
    {
      name: 'update',
      args: 'NAME TASK.yaml',
      minArgs: 2,
      maxArgs: 2,
      summary: "Give a service a new version of its task; its replicas are replaced while it keeps serving",
      options: ['mode', 'yes', 'async', ...SERVE_TASK_OPTIONS, 'workspace'],
      optionHelp: { yes: 'Do not ask before updating', async: 'Print the request ID and return as soon as the request is accepted' },
      examples: ['sky serve update llm service.yaml', 'sky serve update llm service.yaml --mode blue_green -y'],
    },
    {
      name: 'status',
      args: '[NAMES...]',
      maxArgs: many,
      summary: 'Show services and their replicas (default: all of yours)',
      options: ['allUsers', 'serviceEndpoint'],
      optionHelp: { allUsers: "Show every user's services, with a USER column" },
      examples: ['sky serve status', 'sky serve status llm', 'sky serve status --endpoint llm'],
    },
    {
      name: 'down',
      args: '[NAMES...]',
      maxArgs: many,
      summary: 'Tear services down: their replicas and load balancers (-a: all of yours)',
      options: ['all', 'allUsers', 'yes', 'purge'],
      optionHelp: { all: 'Tear down all your services', allUsers: "With -a: every user's services (admins)", yes: 'Do not ask before tearing down' },
      examples: ['sky serve down llm', 'sky serve down -a -y'],
    },
    {
      name: 'logs',
      args: 'NAME [REPLICA_ID]',
      minArgs: 1,
      maxArgs: 2,
      summary: "Stream a replica's log, or the controller's or load balancer's, of a service",
      options: ['controller', 'loadBalancer', 'follow'],
      optionHelp: {
        controller: "Stream the controller's log (what sky decided and did for the service)",
        follow: 'Keep streaming until the replica ends or the service is torn down (default); --no-follow prints what is there and returns',
      },
      examples: ['sky serve logs llm 1', 'sky serve logs llm --controller', 'sky serve logs llm --load-balancer --no-follow'],
    },
    {
      name: 'token',
      args: 'NAME',
      minArgs: 1,
      maxArgs: 1,
      summary: "Protect a service's endpoint with a new bearer token (printed once; any earlier one stops working), or --off to open it again",
      options: ['off'],
      examples: ['sky serve token llm', 'curl -H "Authorization: Bearer $TOKEN" $(sky serve status --endpoint llm)/v1/models', 'sky serve token llm --off'],
    },
  ],
};

export const NOUNS: readonly NounSpec[] = [API, DAEMON, SSH, USERS, WORKSPACE, JOBS, SERVE, PLUGINS];

const CLUSTERS = 'Clusters and jobs';
const INFRA = 'Infrastructure';
const SERVER = 'API server';

export const COMMANDS: readonly CommandSpec[] = [
  {
    section: CLUSTERS,
    name: 'launch',
    args: '[TASK.yaml | COMMAND...]',
    maxArgs: many,
    summary: 'Launch a cluster (or reuse one) and run a task on it, streaming its output',
    options: ['cluster', 'dryrun', 'detach', 'yes', 'async', 'idleMinutesToAutostop', 'down', 'fast', 'noSetup', 'retryUntilUp', ...TASK_OPTIONS, 'workspace'],
    optionHelp: {
      yes: 'Do not ask before creating or restarting a cluster',
      async: 'Print the request ID and return without waiting for the launch',
      down: 'Tear the cluster down, instead of stopping it, once idle (with -i; alone: as soon as it is idle)',
    },
    examples: [
      'sky launch -c dev examples/two-node.yaml',
      "sky launch -c dev 'echo hi'",
      'sky launch -c dev -- echo "hi"',
      'sky launch --dryrun --num-nodes 2 task.yaml',
      'sky launch -c dev --fast task.yaml',
      'sky launch --infra ssh/gpu-a --retry-until-up task.yaml',
    ],
  },
  {
    section: CLUSTERS,
    name: 'exec',
    args: 'CLUSTER TASK.yaml | COMMAND...',
    minArgs: 1,
    maxArgs: many,
    summary: 'Run a task on an existing cluster (queued as a job; no cluster setup)',
    options: ['detach', 'async', ...TASK_OPTIONS, 'workspace'],
    optionHelp: { async: 'Print the request ID and return without waiting for the job to be queued' },
    examples: ['sky exec dev task.yaml', "sky exec dev 'python train.py'", 'sky exec dev -d -- ./run.sh --epochs 3'],
  },
  {
    section: CLUSTERS,
    name: 'status',
    args: '[CLUSTERS...]',
    maxArgs: many,
    summary: 'Show clusters (default: yours; names may be glob patterns)',
    options: ['allUsers', 'refresh', 'verbose', 'ip', 'endpoints', 'output'],
    optionHelp: {
      output: 'Output format: text (default) or json ({"clusters": [...], "enabledInfra": [...]}, see the README)',
      allUsers: "Show every user's clusters, with a USER column (not those of private workspaces you are not in)",
      refresh: "Ask the drivers for the real state of the clusters first (with -u: every user's for admins, your own otherwise)",
    },
    examples: ['sky status', "sky status 'dev-*'", 'sky status --ip dev', 'sky status --endpoints dev', 'sky status -u -o json'],
  },
  {
    section: CLUSTERS,
    name: 'queue',
    args: '[CLUSTERS...]',
    maxArgs: many,
    summary: 'Show the job queue of clusters (default: all your clusters)',
    options: ['allUsers', 'skipFinished', 'output'],
    optionHelp: { allUsers: "Show every user's jobs" },
  },
  {
    section: CLUSTERS,
    name: 'logs',
    args: 'CLUSTER [JOB_ID]',
    minArgs: 1,
    maxArgs: 2,
    summary: 'Stream the log of a job (default: your newest job on the cluster)',
    options: ['follow', 'status', 'tail', 'syncDown'],
    optionHelp: { follow: 'Keep streaming until the job ends (default); --no-follow prints what is there and returns' },
    examples: ['sky logs dev', 'sky logs dev 3 --no-follow', 'sky logs dev 3 --sync-down'],
  },
  {
    section: CLUSTERS,
    name: 'cancel',
    args: 'CLUSTER [JOB_IDS...]',
    minArgs: 1,
    maxArgs: many,
    summary: 'Cancel jobs on a cluster (default: your newest unfinished job)',
    options: ['all', 'allUsers', 'yes', 'async'],
    optionHelp: { all: 'Cancel all your jobs on the cluster', allUsers: "Cancel every user's jobs on the cluster" },
  },
  {
    section: CLUSTERS,
    name: 'stop',
    args: '[CLUSTERS...]',
    maxArgs: many,
    summary: 'Stop clusters: their nodes release compute and keep their disks (names may be glob patterns)',
    options: ['all', 'allUsers', 'yes', 'async'],
    optionHelp: { all: 'Stop all your clusters', allUsers: "Stop every user's clusters" },
  },
  {
    section: CLUSTERS,
    name: 'start',
    args: '[CLUSTERS...]',
    maxArgs: many,
    summary: 'Restart stopped clusters (names may be glob patterns)',
    options: ['all', 'yes', 'async', 'idleMinutesToAutostop', 'down'],
    optionHelp: {
      all: 'Restart all your stopped clusters',
      down: 'Tear the cluster down, instead of stopping it, once idle (with -i; alone: as soon as it is idle)',
    },
    examples: ['sky start dev', 'sky start dev -i 30', "sky start 'dev-*' -i 60 --down -y"],
  },
  {
    section: CLUSTERS,
    name: 'down',
    args: '[CLUSTERS...]',
    maxArgs: many,
    summary: 'Tear clusters down: terminate their nodes and forget them (names may be glob patterns)',
    options: ['all', 'allUsers', 'yes', 'async'],
    optionHelp: { all: 'Tear down all your clusters', allUsers: "Tear down every user's clusters" },
    examples: ['sky down dev', "sky down 'dev-*'", 'sky down -a -y'],
  },
  {
    section: CLUSTERS,
    name: 'autostop',
    args: '[CLUSTERS...]',
    maxArgs: many,
    summary: 'Stop (or tear down) clusters after they have been idle for some minutes (names may be glob patterns)',
    options: ['idleMinutes', 'down', 'cancel', 'all', 'allUsers', 'yes', 'async'],
    optionHelp: {
      all: 'Apply to all your clusters',
      allUsers: "Apply to every user's clusters",
      yes: 'Accepted for compatibility; autostop never asks',
      down: 'Tear the cluster down instead of stopping it',
    },
    examples: ['sky autostop dev -i 30', 'sky autostop dev -i 60 --down', 'sky autostop dev --cancel', "sky autostop 'dev-*' -i 10"],
  },
  {
    section: INFRA,
    name: 'check',
    args: '[INFRA...]',
    maxArgs: 50,
    summary: 'Check which infra sky can use: every driver, and each host of the SSH node pools (hosts: admins; others see each pool\'s capacity)',
    options: ['output'],
    examples: ['sky check', 'sky check ssh', 'sky check ssh/gpu-a local'],
  },
  {
    section: INFRA,
    name: 'show-gpus',
    args: '',
    maxArgs: 0,
    summary: 'Show the GPUs of every enabled driver, and of each host of the SSH node pools with who holds it (hosts: admins; others see GPUs per pool)',
    options: ['infra', 'output'],
    optionHelp: { infra: 'Only the hosts of the SSH node pools: ssh (every pool) or ssh/POOL' },
    examples: ['sky show-gpus', 'sky show-gpus --infra ssh/gpu-a'],
  },
  {
    section: SERVER,
    name: 'dashboard',
    args: '',
    maxArgs: 0,
    summary: 'Open the dashboard: print a one-time login link (it works once, for two minutes, and opens a browser session as you), and open it in a browser on a desktop terminal',
    options: ['open'],
    optionHelp: { open: 'Open the link in the default web browser even where no desktop was detected' },
    examples: ['sky dashboard', 'sky dashboard --open'],
  },
];

/** The keys cac stores an option under: each of its names, camelCased (`-u, --all-users` → u, allUsers). */
export function optionNames(key: OptionKey): string[] {
  return OPTIONS[key].flags
    .replace(/[<[].*$/, '')
    .split(',')
    .map((part) => part.trim().replace(/^-+/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()));
}

/** The flag as the user reads it: the long form. */
export function longFlag(key: OptionKey): string {
  const flags = OPTIONS[key].flags.replace(/\s*[<[].*$/, '').split(',').map((f) => f.trim());
  return flags[flags.length - 1] ?? key;
}

export function optionHelp(action: ActionSpec, key: OptionKey): string {
  return action.optionHelp?.[key] ?? OPTIONS[key].help;
}

export function optionsOf(noun: NounSpec): OptionKey[] {
  return [...new Set(noun.actions.flatMap((a) => a.options))];
}

export function commandNamed(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
