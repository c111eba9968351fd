#!/usr/bin/env bash
# Static checks CI runs before the tests: lint, formatting of generated code,
# that generated files (protobuf TS) are current, and one release version.
set -euo pipefail
cd "$(dirname "$0")/.."
npx eslint .
npm run gen:check -w api
node ci/versions.mjs
