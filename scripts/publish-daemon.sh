#!/usr/bin/env bash
# Publishes the daemon as one self-contained, trimmed, ReadyToRun executable for one runtime.
#
# Usage: scripts/publish-daemon.sh [RID] [--out DIR] [--no-single-file] [extra dotnet publish args...]
#   RID                 runtime identifier, default linux-x64 (also win-x64, osx-arm64, linux-arm64, ...)
#   --out DIR           output folder, default .artifacts/publish/<RID>
#   --no-single-file    colab + colab.dll + the framework files instead of one executable
#   extra args          passed to dotnet publish as they are, after ours
#                       (e.g. -p:EventSourceSupport=false -p:ConcurrentGarbageCollection=false)
#
# The executable is <out>/colab (colab.exe on Windows); run it as `colab daemon --stdio`.
# Only publish-time properties are set here: the project files are not changed.
# See docs/benchmarks.md for what each setting buys (measured with `npm run bench`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

rid="linux-x64"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  rid="$1"
  shift
fi
out=""
single_file=true
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --no-single-file) single_file=false; shift ;;
    *) extra+=("$1"); shift ;;
  esac
done
out="${out:-.artifacts/publish/$rid}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

props=(
  --self-contained
  -p:PublishTrimmed=true
  -p:PublishReadyToRun=true
  -p:PublishSingleFile="$single_file"
  -p:EventSourceSupport=false
)
# EventSourceSupport=false (issue 8, fourth round): once the first answer no longer waited for
# the host, the EventSource set-up the runtime runs before Main was the largest piece left that
# could go (~9 ms of CPU of ~44 to the first answer, 0.7 MiB). The cost: dotnet-counters and
# dotnet-trace see no EventSource events from a published daemon; pass
# -p:EventSourceSupport=true to get them back. The other lean switches that were tried
# (ConcurrentGarbageCollection, TieredPGO, MetricsSupport, a composite image, not single file,
# R2R code for x86-64-v3) changed start-up by less than the noise; see docs/benchmarks.md.

# Each publish gets a fresh intermediate folder, so output trimmed or compiled under other
# -p: switches is never reused (a publish that only changed feature switches took 3 s
# instead of 60 when it shared obj/ with the previous one).
obj="$root/.artifacts/obj/publish-$(printf '%s' "$rid-$out-${props[*]} ${extra[*]:-}" | sha256sum | cut -c1-12)/"
rm -rf "$obj"

printf '[publish-daemon] %s -> %s\n' "$rid" "$out" >&2
find "$out" -mindepth 1 -delete
dotnet publish daemon/Colab.Daemon.csproj -c Release -r "$rid" -nologo -v q -clp:ErrorsOnly \
  "${props[@]}" "${extra[@]}" -p:IntermediateOutputPath="$obj" -o "$out" >&2
rm -rf "$obj"
ls -l "$out" >&2
