#!/bin/sh
# Any CI: schedule benchmark runs of this commit, then gate on their regressions.
#
#   ROOFWATCH_SERVER=https://roofwatch.example.com   the platform
#   ROOFWATCH_PROJECT=3                              the project's id, in its hook URL /hooks/ci/3/
#   ROOFWATCH_HOOK_SECRET=rwh_...                    `manage.py webhook_secret PROJECT` (prints both)
#   ROOFWATCH_TOKEN=rw_...                           an agent token (reads runs and alerts)
#   REPOSITORY=https://github.com/you/project        the project's repository URL
#   COMMIT=<full sha>  BRANCH=main  BUILD_URL=<this build's page>
#
# Exit status: 0 clean, 1 untriaged regressions (>= 5%), 2 could not tell.
set -eu

body=$(printf '{"repository": "%s", "commit": "%s", "branch": "%s", "build_url": "%s"}' \
  "$REPOSITORY" "$COMMIT" "${BRANCH:-}" "${BUILD_URL:-}")
ts=$(date +%s)
# HMAC-SHA256 over "<timestamp>.<body>"; the server refuses timestamps more than 5 minutes off.
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$ROOFWATCH_HOOK_SECRET" -r | cut -d' ' -f1)

curl --fail-with-body -sS -X POST "$ROOFWATCH_SERVER/hooks/ci/$ROOFWATCH_PROJECT/" \
  -H "Content-Type: application/json" \
  -H "X-Roofwatch-Timestamp: $ts" \
  -H "X-Roofwatch-Signature: sha256=$sig" \
  -H "X-Roofwatch-Delivery: ${BUILD_URL:-$COMMIT-$ts}" \
  --data "$body"
echo

exec roofwatch-agent ci-check --server "$ROOFWATCH_SERVER" --token "$ROOFWATCH_TOKEN" \
  --commit "$COMMIT" --wait "${ROOFWATCH_WAIT:-2700}" --threshold "${ROOFWATCH_THRESHOLD:-5}"
