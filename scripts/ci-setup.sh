#!/usr/bin/env bash
# Installs the Debian packages the integration tests need to start real components themselves:
# openssh-server (sshd hosts in network namespaces, ssh-keygen for their keys), iproute2
# (`ip netns`, veth pairs, bridges), dash and busybox (shells the node runtime is tested with), openssl (throwaway certificates for the TLS tests), chromium (the dashboard's browser tests), and nginx, systemd-analyze and kubectl (the deployment recipe's checks). Only what is missing is installed, so a prepared machine
# does nothing here. Needs root for the install; a machine without apt-get or without root
# is told what to install by hand, and the tests then say what they could not start.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# The node runtime is tested under every POSIX shell a node may have: dash and busybox sh too.
command -v dash >/dev/null 2>&1 || missing+=(dash)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
# The TLS tests make a throwaway CA and server certificates with the openssl command.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# ssh CLUSTER is tested with OpenSSH's own client, scp (over SFTP) and rsync; local-node sessions
# get a terminal from util-linux's script (bsdutils) and SFTP from sftp-server.
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
[ -x /usr/lib/openssh/sftp-server ] || missing+=(openssh-sftp-server)
# The CLI clones SkyPilot git workdirs (workdir: {url, ref}); the tests serve one over file://.
command -v git >/dev/null 2>&1 || missing+=(git)
# The dashboard is tested in Debian's Chromium, driven by playwright-core (which downloads no browser).
[ -x /usr/lib/chromium/chromium ] || [ -x /usr/bin/chromium ] || missing+=(chromium)
# The deployment recipe (examples/deploy) is tested with Debian's nginx in front of two replicas,
# its systemd unit with systemd-analyze verify (the tool only: systemd is never started) and its
# Kubernetes manifests with kubectl apply --dry-run=server.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
# The Python client (clients/python) is tested on Debian's python3: its venv module (ensurepip
# with pip and setuptools) and the wheel package's wheel, which setuptools needs to build a wheel
# in a venv offline (pip install --no-build-isolation --no-index).
[ -x /usr/bin/python3 ] || missing+=(python3)
[ -f /usr/lib/python3/dist-packages/setuptools/__init__.py ] || missing+=(python3-setuptools)
[ -x /usr/bin/pip3 ] || missing+=(python3-pip)
ls /usr/lib/python3.*/ensurepip/__init__.py >/dev/null 2>&1 || missing+=(python3-venv)
ls /usr/share/python-wheels/wheel-*.whl >/dev/null 2>&1 || missing+=(python3-wheel-whl)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "ci-setup: openssh-server, iproute2, dash, busybox, openssl, rsync, script, git, chromium, nginx, systemd-analyze, kubectl and python3 with venv, pip, setuptools and wheel are present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ci-setup: missing ${missing[*]} and apt-get is not available: install them by hand" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ci-setup: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "ci-setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# --no-install-recommends keeps the install small; policy-rc.d stops Debian from starting a
# system-wide sshd on port 22 (or nginx on port 80): the tests start their own processes and need nothing else.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
status=0
apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
[ "$created_policy" -eq 1 ] && rm -f "$policy"
exit "$status"
