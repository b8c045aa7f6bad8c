#!/usr/bin/env bash
# Freezing idle instances against running them idle and stopping them: see freeze.py.
exec python3 "$(dirname "$0")/freeze.py" "$@"
