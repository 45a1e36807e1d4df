#!/usr/bin/env bash
# npm run lab: make sure .venv/ exists, then serve JupyterLab on the project root with notebooks/ open,
# so that exercises/ and solutions/ are a click away (extra arguments go to JupyterLab).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bash "$root/notebooks/tools/venv.sh"
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
extra=(); [ "$(id -u)" = 0 ] && extra=(--allow-root)
exec "$root/.venv/bin/jupyter" lab --ServerApp.root_dir="$root" --LabApp.default_url=/lab/tree/notebooks "${extra[@]}" "$@"
