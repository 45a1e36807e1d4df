#!/bin/sh
# Jupyter starts kernels in the notebook's folder; tslab only compiles files under its working
# directory, so start it in the project root: notebooks then import './lib/...' and read 'datasets/...'.
cd "$(dirname "$0")/../.." && exec node node_modules/tslab/bin/tslab "$@"
