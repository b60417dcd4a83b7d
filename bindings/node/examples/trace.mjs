// Where is my container? The deployments of a store, as `spektate get` shows them.
//
// Settings come from the same environment variables as the `spektate` command:
//
//   SPEKTATE_STORE=sqlite:spektate.db        where the pipelines record (the default)
//   SPEKTATE_PARTITION_KEY=fabrikam          the project (default: default)
//   SPEKTATE_GITHUB_TOKEN=github_pat_...     optional: runs, authors, PRs from GitHub
//   SPEKTATE_GITHUB_URL=https://github.example.com/api/v3   optional: GitHub Enterprise
//   SPEKTATE_AZDO_ORG=fabrikam SPEKTATE_AZDO_PROJECT=hello SPEKTATE_AZDO_TOKEN=...  optional
//   SPEKTATE_AZDO_URL=https://tfs.corp.local/tfs            optional: Azure DevOps Server
//   SPEKTATE_MANIFEST_REPO=https://github.com/fabrikam/manifests  optional: cluster sync
//
// Run it (after `npm install` in bindings/node):
//
//   node examples/trace.mjs                     the table of `spektate get`
//   node examples/trace.mjs --wide --ring prod  `spektate get -o wide --env prod`
//   node examples/trace.mjs --json              the deployments as JSON
import { parseArgs } from 'node:util'

import { Tracker } from '@spektate/node'

const env = (name) => process.env[name]?.trim() || undefined

function trackerFromEnv() {
  const github = env('SPEKTATE_GITHUB_TOKEN') || env('SPEKTATE_GITHUB_URL')
    ? { token: env('SPEKTATE_GITHUB_TOKEN'), apiUrl: env('SPEKTATE_GITHUB_URL') }
    : undefined
  const azureDevOps = env('SPEKTATE_AZDO_ORG') && env('SPEKTATE_AZDO_PROJECT')
    ? { org: env('SPEKTATE_AZDO_ORG'), project: env('SPEKTATE_AZDO_PROJECT'), token: env('SPEKTATE_AZDO_TOKEN'), url: env('SPEKTATE_AZDO_URL') }
    : undefined
  return new Tracker(env('SPEKTATE_STORE') ?? 'sqlite:spektate.db', {
    partition: env('SPEKTATE_PARTITION_KEY') ?? 'default',
    azureDevOps,
    github,
    manifestRepo: env('SPEKTATE_MANIFEST_REPO'),
    hldRepo: env('SPEKTATE_HLD_REPO'),
    sourceRepo: env('SPEKTATE_SOURCE_REPO'),
  })
}

const { values: args } = parseArgs({
  options: {
    service: { type: 'string', short: 's' },
    ring: { type: 'string', short: 'e' },
    env: { type: 'string' },
    author: { type: 'string', short: 'a' },
    status: { type: 'string' },
    top: { type: 'string' },
    wide: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
})

try {
  const tracker = trackerFromEnv()
  const filter = {
    service: args.service,
    ring: args.ring ?? args.env,
    author: args.author,
    status: args.status,
    top: args.top === undefined ? undefined : Number(args.top),
  }
  const deployments = await tracker.deployments(filter)
  if (args.json) {
    console.log(JSON.stringify(deployments, null, 2))
  } else if (deployments.length > 0) {
    process.stdout.write(await tracker.table(filter, args.wide))
  } else {
    console.log('No deployments found.')
  }
  for (const d of deployments) {
    for (const warning of d.warnings) console.error(`warning: deployment ${d.id}: ${warning}`)
  }
} catch (e) {
  console.error(`trace: ${e.code ?? e.name}: ${e.message}`)
  process.exitCode = 1
}
