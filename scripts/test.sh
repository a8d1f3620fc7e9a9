#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs every test —
# daemon (xunit), extension unit tests, interop with the real vscode-jsonrpc, and the
# end-to-end suite in a real VS Code (code-server in headless Chromium), the VSIX installed
# into a fresh code-server, and the packaged daemon driven over SSH (sshd on loopback).
# Ends with one line "N passed, N failed, N skipped"; exits non-zero if anything failed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="$root/test-results"
mkdir -p "$out"

bash scripts/setup.sh || { echo "setup failed"; exit 1; }
node scripts/build.mjs || { echo "build failed"; exit 1; }

passed=0; failed=0; skipped=0; broken=(); why=()

# Counts from `dotnet test` ("Failed: 0, Passed: 57, Skipped: 0").
run_dotnet() {
  local log="$out/daemon.log"
  echo "=== daemon tests (xunit) ==="
  dotnet test ColabDaemon.sln -c Release --no-build --nologo 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # One summary line per test project: add them all up.
  local lines f=0 p=0 s=0
  lines=$(grep -E "Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+" "$log")
  if [ -z "$lines" ]; then
    broken+=("daemon tests (no summary, exit $rc)"); failed=$((failed + 1)); return
  fi
  while IFS= read -r line; do
    f=$((f + $(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$line")))
    p=$((p + $(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$line")))
    s=$((s + $(sed -E 's/.*Skipped: +([0-9]+).*/\1/' <<<"$line")))
  done <<<"$lines"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { broken+=("daemon tests (exit $rc)"); failed=$((failed + 1)); }
  if [ "$f" -gt 0 ]; then
    # Name each failed test, so the last lines of a CI log say which one.
    local names
    names=$(grep -E "^ +Failed [A-Za-z_]" "$log" | sed -E 's/^ +Failed +//; s/ \[.*$//' | sort -u | head -n 20)
    broken+=("daemon tests")
    while IFS= read -r n; do [ -n "$n" ] && broken+=("  $n"); done <<<"$names"
    # And why: the first lines of each failure's message, kept for the end of the log.
    why+=("$(awk '/^ +Failed [A-Za-z_]/ { n = 0; grab = 1; print; next }
                  grab && /^ +Stack Trace:/ { grab = 0; next }
                  grab && n < 12 { print; n++ }' "$log" | head -n 120)")
  fi
}

# Counts from Node's test runner spec reporter ("ℹ pass 12").
run_node() {
  local name="$1" dir="$2"
  local log="$out/$name.log"
  echo "=== $name ==="
  local files
  files=$(find "$dir" -name '*.test.js' 2>/dev/null | sort)
  if [ -z "$files" ]; then
    broken+=("$name (no test files in $dir)"); failed=$((failed + 1)); return
  fi
  # shellcheck disable=SC2086
  node --test --test-reporter=spec --test-concurrency=1 $files 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f s
  p=$(grep -E "^ℹ pass [0-9]+" "$log" | tail -n 1 | awk '{print $3}')
  f=$(grep -E "^ℹ fail [0-9]+" "$log" | tail -n 1 | awk '{print $3}')
  s=$(grep -E "^ℹ skipped [0-9]+" "$log" | tail -n 1 | awk '{print $3}')
  if [ -z "$p" ] || [ -z "$f" ]; then
    broken+=("$name (no summary, exit $rc)"); failed=$((failed + 1)); return
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { broken+=("$name (exit $rc)"); failed=$((failed + 1)); }
  if [ "$f" -gt 0 ]; then
    broken+=("$name")
    local names
    names=$(grep -E "^ *✖ " "$log" | grep -v "✖ failing tests:" | sed -E 's/^ *✖ //; s/ \([0-9.]+ms\)$//' | sort -u | head -n 20)
    while IFS= read -r n; do [ -n "$n" ] && broken+=("  $n"); done <<<"$names"
    why+=("$(sed -n '/✖ failing tests:/,$p' "$log" | head -n 80)")
  fi
}

run_dotnet
run_node "extension unit tests" out/tests/extension
run_node "interop tests (vscode-jsonrpc)" out/tests/interop
run_node "end-to-end tests (code-server)" out/tests/e2e
# The VSIX (issue 8): built once for this run (the daemon publish takes a minute or more)
# and shared by the package and Remote-SSH tests through COLAB_PACKAGE_RUN.
export COLAB_PACKAGE_RUN="${COLAB_PACKAGE_RUN:-$(date +%s)-$$}"
run_node "package tests (VSIX installed in code-server)" out/tests/package
run_node "Remote-SSH tests (sshd on loopback)" out/tests/remote

echo
[ ${#why[@]} -gt 0 ] && printf '%s\n' "${why[@]}"
[ ${#broken[@]} -gt 0 ] && printf 'failing: %s\n' "${broken[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
