#!/usr/bin/env bash
# Create .venv/ (JupyterLab 4 + plotly renderer + nbclient) when missing or outdated, and register the
# tslab kernel inside it, never in the user's global Jupyter. Safe to run repeatedly.
# Every run also installs OpenBLAS (requirements-blas.txt), which the CPU backend uses for its products.
#   --nvrtc  also install NVIDIA's NVRTC (~220 MB), with which `npm test` compiles every cuda kernel on
#            a machine without a GPU; learners who only want the notebooks never need it.
#   --blas   only OpenBLAS, no JupyterLab (`npm run demo`); without Python or a network it says so and
#            exits 0, and the demo runs on WebAssembly alone.
set -euo pipefail
nvrtc=0
blas_only=0
for arg in "$@"; do
  case "$arg" in
    --nvrtc) nvrtc=1 ;;
    --blas) blas_only=1 ;;
    *) echo "venv.sh: unknown argument '$arg', expected --nvrtc or --blas" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
venv=.venv
requirements=notebooks/tools/requirements.txt
requirements_nvrtc=notebooks/tools/requirements-nvrtc.txt
requirements_blas=notebooks/tools/requirements-blas.txt
stamp_blas="$venv/.tinyllm-stamp-blas"
want_blas="$(sha256sum < "$requirements_blas" | cut -c1-16)"
install_blas() {
  [ "$(cat "$stamp_blas" 2>/dev/null)" != "$want_blas" ] || return 0
  echo "tinyllm: installing OpenBLAS into $venv (the CPU's matrix products) ..."
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements_blas" || return 1
  echo "$want_blas" > "$stamp_blas"
}
if [ "$blas_only" = 1 ]; then
  [ "$(cat "$stamp_blas" 2>/dev/null)" = "$want_blas" ] && exit 0
  python=${PYTHON:-python3}
  note="tinyllm: running without OpenBLAS (matrix products on WebAssembly, several times slower)"
  command -v "$python" >/dev/null 2>&1 || { echo "$note: no '$python' to install it with" >&2; exit 0; }
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" || { echo "$note: '$python -m venv' failed (Debian/Ubuntu: apt install python3-venv)" >&2; exit 0; }
  install_blas || echo "$note: pip could not install $requirements_blas" >&2
  exit 0
fi

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "tinyllm: Python 3.10+ is needed for JupyterLab but '$python' was not found." >&2
  echo "  Install it (Debian/Ubuntu: sudo apt install python3 python3-venv; macOS: brew install python)" >&2
  echo "  or point PYTHON at one: PYTHON=/path/to/python3 npm run lab" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "tinyllm: JupyterLab needs Python 3.10+, but $python is $("$python" --version 2>&1)." >&2
  exit 1
fi

# The stamps record what the venv was built from; a changed requirements file or kernel launcher rebuilds.
stamp="$venv/.tinyllm-stamp"
stamp_nvrtc="$venv/.tinyllm-stamp-nvrtc"
want="$(cat "$requirements" notebooks/tools/kernel.sh notebooks/tools/venv.sh | sha256sum | cut -c1-16) $root"
want_nvrtc="$(sha256sum < "$requirements_nvrtc" | cut -c1-16)"
install_nvrtc() {
  [ "$nvrtc" = 1 ] && [ "$(cat "$stamp_nvrtc" 2>/dev/null)" != "$want_nvrtc" ] || return 0
  echo "tinyllm: installing NVRTC into $venv (for compiling the cuda kernels without a GPU) ..."
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements_nvrtc"
  echo "$want_nvrtc" > "$stamp_nvrtc"
}
if [ -x "$venv/bin/jupyter" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  install_blas
  install_nvrtc
  exit 0
fi

echo "tinyllm: setting up $venv (JupyterLab, plotly, nbclient) ..."
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || {
    echo "tinyllm: '$python -m venv' failed; on Debian/Ubuntu install python3-venv." >&2
    exit 1
  }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
# JupyterLab runs its bundled CommonJS yarn.js with Node, which would otherwise inherit our package.json's
# "type": "module" and fail.
echo '{ "type": "commonjs" }' > "$venv/package.json"

# tslab's installer writes kernel.json into $venv/share/jupyter/kernels/{tslab,jslab}; our launcher
# starts the kernel in the project root so that notebooks import './lib/...'.
node node_modules/tslab/bin/tslab install --python="$venv/bin/python" --sys-prefix \
  --binary="$root/notebooks/tools/kernel.sh" >/dev/null
"$venv/bin/jupyter" kernelspec list | grep -q '^ *tslab ' || {
  echo "tinyllm: the tslab kernel did not register in $venv" >&2
  exit 1
}
echo "$want" > "$stamp"
install_blas
install_nvrtc
echo "tinyllm: $venv ready (kernels: $("$venv/bin/jupyter" kernelspec list --json | "$venv/bin/python" -c 'import json,sys; print(", ".join(json.load(sys.stdin)["kernelspecs"]))'))"
