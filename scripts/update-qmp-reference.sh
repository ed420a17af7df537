#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regenerates the QMP reference from the schema and copies it to
# docs/qmp-reference.md (the committed copy that the 'qmp-reference' test
# compares with).
#
# Usage: scripts/update-qmp-reference.sh [BUILD_DIR]   (default: build)
set -e
build=${1:-build}
ninja -C "$build" update-qmp-reference
