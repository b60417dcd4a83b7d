// Packs @spektate/node as it is published: the main package (the loader index.js, index.d.ts,
// README.md) with every per-platform package of npm/ as an optional dependency at the same
// version, and each per-platform package that has its addon (spektate.<platform>.node), so npm
// installs only the one for the user's platform and nobody needs Rust.
//
//   node scripts/pack.mjs OUT_DIR [ADDON_DIR]
//
// ADDON_DIR (default: this folder) holds the built addons, as `napi build --platform` names
// them; the release collects every platform's there. Writes the tarballs to OUT_DIR and prints
// their paths, the main package's first. The folders it packs from are staged under OUT_DIR,
// so the package.json files here stay as they are (their optional dependencies would not
// resolve before a release is published).
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const [outArg, addonArg] = process.argv.slice(2)
if (!outArg) {
  console.error('usage: node scripts/pack.mjs OUT_DIR [ADDON_DIR]')
  process.exit(2)
}
const out = resolve(outArg)
const addons = resolve(addonArg ?? here)
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
const main = readJson(join(here, 'package.json'))
const binary = main.napi.binaryName

function pack(dir) {
  const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
  }).trim().split('\n').pop()
  return join(out, name)
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const tarballs = []

const platforms = readdirSync(join(here, 'npm'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()
const optionalDependencies = {}
for (const platform of platforms) {
  const manifest = readJson(join(here, 'npm', platform, 'package.json'))
  if (manifest.version !== main.version) {
    throw new Error(`npm/${platform}/package.json: version ${manifest.version}, the main package is ${main.version}`)
  }
  optionalDependencies[manifest.name] = main.version
  const addon = `${binary}.${platform}.node`
  if (!existsSync(join(addons, addon))) continue
  const stage = join(out, 'stage', platform)
  mkdirSync(stage, { recursive: true })
  for (const file of ['package.json', 'README.md']) copyFileSync(join(here, 'npm', platform, file), join(stage, file))
  copyFileSync(join(addons, addon), join(stage, addon))
  tarballs.push(pack(stage))
}

for (const file of main.files) {
  if (file.includes('*') || !existsSync(join(here, file))) {
    throw new Error(`package.json files: ${file} is missing (build the addon first: napi build --platform --release)`)
  }
}
const stage = join(out, 'stage', 'main')
mkdirSync(stage, { recursive: true })
for (const file of main.files) copyFileSync(join(here, file), join(stage, file))
delete main.scripts
delete main.devDependencies
writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ ...main, optionalDependencies }, null, 2)}\n`)
tarballs.unshift(pack(stage))
rmSync(join(out, 'stage'), { recursive: true, force: true })
console.log(tarballs.join('\n'))
