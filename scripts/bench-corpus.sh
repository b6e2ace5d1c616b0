#!/usr/bin/env bash
# Fetches what `insight bench detectors` measures and compares against, into folders outside git:
#   target/bench-corpus/npm/<package>/   published npm packages, unpacked with `npm pack`
#   target/bench-tools/node_modules/     oxlint and eslint (peers for parse-and-lint)
#   target/bench-tools/py/               a secrets scanner from PyPI (peer for secret scanning)
# Nothing here is committed (`/target` is ignored). Re-running skips what is already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$root/target/bench-corpus/npm"
tools="$root/target/bench-tools"
mkdir -p "$corpus" "$tools"

packages=(lodash@4.17.21 express@4.21.2 react-dom@18.3.1 vue@3.5.13 rxjs@7.8.1 date-fns@3.6.0
          axios@1.7.9 zod@3.24.1 moment@2.30.1 chart.js@4.4.7)
for spec in "${packages[@]}"; do
  name="${spec%@*}"
  [ -d "$corpus/$name" ] && continue
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  mkdir -p "$corpus/$name"
  tar -xzf "$tmp"/*.tgz -C "$corpus/$name" --strip-components=1
  rm -rf "$tmp"
  echo "corpus: $spec"
done

if [ ! -x "$tools/node_modules/.bin/oxlint" ] || [ ! -x "$tools/node_modules/.bin/eslint" ]; then
  (cd "$tools" && [ -f package.json ] || echo '{"private":true}' > package.json)
  (cd "$tools" && npm install --silent --no-audit --no-fund oxlint@1 eslint@9 || echo "peers: npm install failed; bench runs without them")
fi

if [ ! -d "$tools/py" ]; then
  pip install --quiet --target "$tools/py" kingfisher-bin 2>/dev/null \
    || echo "peers: no secrets scanner wheel installed; bench runs without it"
fi
echo "corpus: $(du -sh "$corpus" | cut -f1) in $corpus"
