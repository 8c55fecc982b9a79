#!/bin/bash
# Runs the integration tests against ./aws in one mode: plain, preload or valgrind.
# Usage: tests/integration/run.sh MODE [PYTEST-ARGS...]   (from any directory; exits with
# pytest's status). Set AWS_STDERR_COPY=FILE to keep the server's stderr.
set -u

mode=${1:-}
case "$mode" in
    plain|preload|valgrind) ;;
    *) echo "usage: $0 plain|preload|valgrind [pytest args...]" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || exit 2
cd "$repo" || exit 2

# Debian's interpreter: it has python3-pytest. No .pyc files or caches in the tree.
export AWS_MODE=$mode PYTHONDONTWRITEBYTECODE=1
shift
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration "$@"
