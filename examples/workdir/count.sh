#!/bin/sh
# Prints "<greeting> <i>/<n>" n times; used by examples/setup-and-run.yaml.
set -e
greeting=${1:-hello}
n=${2:-1}
i=1
while [ "$i" -le "$n" ]; do
  echo "${greeting} ${i}/${n}"
  i=$((i + 1))
done
