#!/usr/bin/env bash
# Builds the Kubernetes control plane the Kubernetes driver's tests run against: kube-apiserver,
# kube-controller-manager and kube-scheduler from Debian's own `kubernetes` source package (its
# vendor/ tree makes the build offline), with Debian's Go; etcd comes from Debian's etcd-server.
# The binaries are cached under $SKY_KUBE_CACHE (default /var/cache/sky-test) in a folder named
# for the source package's version, so only the first run on a machine pays the ~6 minutes.
# Prints the folder holding the binaries on its last line of stdout. Needs root for apt-get when
# something is missing; run again after a failure (the build starts from a fresh tree).
# `--check`: build nothing, install nothing: print the folder when everything is there, else say
# what is missing on stderr and exit 3 (the tests use it outside CI to skip instead of building).
set -euo pipefail

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

# The version of Debian bookworm's source package; bumping it rebuilds into a new folder.
version="${SKY_KUBE_DEB_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}"
cache_root="${SKY_KUBE_CACHE:-/var/cache/sky-test}"
out="$cache_root/kubernetes-$version"
bins=(kube-apiserver kube-controller-manager kube-scheduler)

have_all() {
  for b in "${bins[@]}"; do [ -x "$out/bin/$b" ] || return 1; done
  command -v etcd >/dev/null 2>&1 || return 1
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    echo "kube-build: missing Debian packages $*; install them as root (apt-get install $*)" >&2
    exit 1
  fi
  echo "kube-build: installing $*" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
  }
}

if have_all; then
  echo "$out/bin"
  exit 0
fi
if [ "$check_only" -eq 1 ]; then
  echo "kube-build: no cached control plane in $out/bin (or etcd is not installed): run 'bash scripts/kube-build.sh' (about 6 minutes on 2 cores)" >&2
  exit 3
fi

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
need_build=0
for b in "${bins[@]}"; do [ -x "$out/bin/$b" ] || need_build=1; done
if [ "$need_build" -eq 1 ]; then
  [ -x /usr/lib/go-1.19/bin/go ] || missing+=(golang-go)
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  command -v dpkg-source >/dev/null 2>&1 || missing+=(dpkg-dev)
fi
[ "${#missing[@]}" -eq 0 ] || apt_install "${missing[@]}"

if [ "$need_build" -eq 1 ]; then
  work="$(mktemp -d "${TMPDIR:-/tmp}/sky-kube-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # A private apt state with the source lines of the suites the machine already uses, so the
  # system's own lists stay as they are.
  mkdir -p "$work/apt/lists/partial"
  echo "deb-src http://deb.debian.org/debian bookworm main" >"$work/apt/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$work/apt/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
    -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache::archives=$work/apt")
  echo "kube-build: fetching Debian's kubernetes source package $version" >&2
  apt-get "${apt_opts[@]}" update -q >&2
  (cd "$work" && apt-get "${apt_opts[@]}" source --download-only "kubernetes=$version" >&2)
  (cd "$work" && dpkg-source --no-check -x ./kubernetes_*.dsc src >&2)
  echo "kube-build: building ${bins[*]} (about 6 minutes on 2 cores)" >&2
  (
    cd "$work/src"
    mkdir -p "$work/home"
    HOME="$work/home" GOPROXY=off GOFLAGS= GO111MODULE= PATH="/usr/lib/go-1.19/bin:$PATH" \
      make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >&2
  )
  mkdir -p "$out.partial/bin"
  for b in "${bins[@]}"; do cp "$work/src/_output/bin/$b" "$out.partial/bin/$b"; done
  rm -rf "$out"
  mv "$out.partial" "$out"
fi
have_all || { echo "kube-build: the binaries are still missing after the build" >&2; exit 1; }
echo "$out/bin"
