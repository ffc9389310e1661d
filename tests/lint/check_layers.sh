#!/usr/bin/env bash
# The pipeline's stages, in the order data flows through them. A stage may
# include its own headers and those of the stages before it, never one after:
# decode/ knows nothing of flows, flow/ nothing of analyzers, and so on. Every
# project include names its stage from the repository root ("decode/tcp.hpp");
# a bare name ("tcp.hpp") hides where a header lives and is rejected too.
# Run by CTest (lint_layers); exits 1 listing every offending line.
#
# usage: tests/lint/check_layers.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(dirname "$0")/../..}
cd "$root"

stages=(capture decode flow analyzers report sink pipeline cli)
declare -A rank
for i in "${!stages[@]}"; do rank[${stages[$i]}]=$i; done

bad=0
for stage in "${stages[@]}"; do
  [[ -d $stage ]] || continue
  while IFS= read -r hit; do
    file=${hit%%:*}
    rest=${hit#*:}
    line=${rest%%:*}
    inc=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' <<<"${rest#*:}")
    [[ -n $inc ]] || continue
    dir=${inc%%/*}
    if [[ $inc != */* ]]; then
      echo "$file:$line: #include \"$inc\": name the stage folder (e.g. \"$stage/$inc\")"
      bad=1
    elif [[ -z ${rank[$dir]+x} ]]; then
      # tools/ or generated code may be included by anyone; other folders are not stages.
      [[ $dir == tools ]] && continue
      echo "$file:$line: #include \"$inc\": $dir/ is not a pipeline stage"
      bad=1
    elif ((rank[$dir] > rank[$stage])); then
      echo "$file:$line: #include \"$inc\": $stage/ may not depend on $dir/, a later stage"
      bad=1
    fi
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$stage" \
             --include='*.cpp' --include='*.hpp' --include='*.h' || true)
done
if ((bad)); then
  echo "check_layers: includes above break the pipeline order (${stages[*]})" >&2
  exit 1
fi
echo "check_layers: every include in ${stages[*]} names its stage and runs down the pipeline"
