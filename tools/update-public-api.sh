#!/usr/bin/env bash
# Regenerates PublicAPI.Unshipped.txt of every packed library (core, ONNX Runtime backend, ImageSharp adapter) from the
# code, so that after a merge (or an API change) the build's RS0016 ("not part of the declared public API") and RS0017
# ("declared but gone") errors go away:
#   1. empty the Unshipped file (APIs removed or changed since drop out with it);
#   2. Shipped APIs that no longer exist (RS0017 in a build) are written as "*REMOVED*<line>";
#   3. apply RS0016's code fix (dotnet format): every public API missing from Shipped + Unshipped is added;
#   4. sort as the code fix does (ordinal, ignoring case), so the diff shows exactly what changed.
# Review `git diff -- 'src/*/PublicAPI.*.txt'`: it is the API change. PublicAPI.Shipped.txt is only edited at release
# time (README: Releasing). Usage: tools/update-public-api.sh [project-folder...]   (needs the .NET SDK; ~1 minute each)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
header='#nullable enable'
projects=("$@")
[ ${#projects[@]} -gt 0 ] || projects=(src/Spright.Diffusion src/Spright.Diffusion.OnnxRuntime src/Spright.Diffusion.ImageSharp)

for dir in "${projects[@]}"; do
  project=$(ls "$dir"/*.csproj)
  unshipped="$dir/PublicAPI.Unshipped.txt"
  printf '%s\n' "$header" > "$unshipped"

  # RS0017's message quotes the declared line verbatim: "Symbol '<line>' is part of the declared API, but ...".
  # (RS0016's code fix does nothing while RS0017 is reported, so this comes first.)
  removed=$(dotnet build "$project" -c Release --no-incremental -p:TreatWarningsAsErrors=false 2>&1 \
    | sed -n "s/.*warning RS0017: Symbol '\(.*\)' is part of the declared API.*/\1/p" | LC_ALL=C sort -u || true)
  if [ -n "$removed" ]; then
    printf '%s\n' "$removed" | sed 's/^/*REMOVED*/' >> "$unshipped"
  fi

  dotnet format analyzers "$project" --diagnostics RS0016 --severity warn

  {
    printf '%s\n' "$header"
    grep -v -x -F "$header" "$unshipped" | sed '/^[[:space:]]*$/d' | LC_ALL=C sort -f | uniq
  } > "$unshipped.tmp"
  mv "$unshipped.tmp" "$unshipped"
  echo "updated $unshipped: $(($(wc -l < "$unshipped") - 1)) entries"
done

# Anything left (another RS00xx rule, a compile error) fails here with the compiler's message.
for dir in "${projects[@]}"; do
  dotnet build "$(ls "$dir"/*.csproj)" -c Release -nologo -clp:ErrorsOnly
done
echo "review: git diff -- 'src/*/PublicAPI.*.txt'"
