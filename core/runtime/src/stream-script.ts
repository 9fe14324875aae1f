/**
 * The shell script that runs a streamed command on a node (NodeTransport.stream): the command
 * runs with no input, and a watcher reads the script's own stdin — the SSH channel, the pipe
 * from the daemon or from sky-node-helper — until it ends. When that connection ends first (the
 * daemon closed the stream, died, or lost the host), the watcher ends the whole process group:
 * no `tail -f` is ever left behind. When the command ends first, the watcher is stopped and the
 * script exits with the command's code.
 *
 * The caller must start the script as the leader of a process group of its own (sshd does for
 * every session; locally: a detached child), since the watcher signals group 0.
 */
export function streamScript(command: string): string {
  return [
    // Background lists get /dev/null as stdin unless redirected: keep the connection on fd 3 for the watcher.
    'exec 3<&0 </dev/null',
    '(cat <&3 >/dev/null 2>&1; kill -TERM 0 2>/dev/null) &',
    'w=$!',
    'exec 3<&-',
    '(',
    command,
    ')',
    'rc=$?',
    'kill $w 2>/dev/null',
    'exit $rc',
  ].join('\n');
}
