#!/usr/bin/env bash
# Runs the given test files alone, with the root hook (private Redis) and the summary line.
exec node --import tsx node_modules/mocha/bin/mocha.js --no-config --require test/support/hooks.ts \
  --reporter test/support/summary-reporter.cjs --timeout 60000 --exit "$@"
