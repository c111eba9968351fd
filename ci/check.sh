#!/usr/bin/env bash
# Static checks CI runs before the tests: lint, formatting of generated code,
# and that generated files (protobuf TS) are current.
set -euo pipefail
cd "$(dirname "$0")/.."
npx eslint .
npm run gen:check -w api
