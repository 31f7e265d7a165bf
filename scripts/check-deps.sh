#!/usr/bin/env bash
# Dependency rule: shared/ is the library every service uses, so nothing under shared/ may
# import from services/ (static import/export ... from, side-effect import, dynamic import(),
# require()). Relative specifiers are resolved against the importing file.
# Exit 0 when clean, 1 with one line per offending import otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

node --input-type=module - "$@" <<'EOF'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve, dirname, relative, sep } from 'node:path'

const root = process.cwd()
const libDir = resolve(root, 'shared')
const forbidden = [resolve(root, 'services')]
const exts = /\.(c|m)?(t|j)sx?$/

function* walk(dir) {
  let entries
  try { entries = readdirSync(dir) } catch { return }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory()) yield* walk(p)
    else if (exts.test(name) && !name.endsWith('.d.ts')) yield p
  }
}

// Drop comments (block comments and whole-line // comments) so that prose does not count.
const stripComments = (src) =>
  src.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
     .replace(/^[ \t]*\/\/.*$/gm, '')

const patterns = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,  // import x from '…' / export … from '…'
  /\bimport\s*['"]([^'"]+)['"]/g,                              // import '…'
  /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,                 // import('…')
  /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,                // require('…')
]

const inside = (p, dir) => p === dir || p.startsWith(dir + sep)
const bad = []
let files = 0
for (const file of walk(libDir)) {
  files++
  const src = stripComments(readFileSync(file, 'utf8'))
  for (const re of patterns) {
    for (const m of src.matchAll(re)) {
      const spec = m[1]
      let target = null
      if (spec.startsWith('.')) target = resolve(dirname(file), spec)
      else if (spec.startsWith('/')) target = resolve(spec)
      else if (/^(services|#services|flywheel\/services)(\/|$)/.test(spec)) target = resolve(root, 'services')
      if (target && forbidden.some((d) => inside(target, d))) {
        const line = src.slice(0, m.index).split('\n').length
        bad.push(`${relative(root, file)}:${line}: imports '${spec}' (shared/ must not depend on services/)`)
      }
    }
  }
}
if (bad.length) {
  for (const b of [...new Set(bad)].sort((x, y) => x.localeCompare(y, undefined, { numeric: true }))) console.error(b)
  console.error(`check-deps: ${bad.length} forbidden import(s)`)
  process.exit(1)
}
console.log(`check-deps: ok (${files} files under shared/, none imports services/)`)
EOF
