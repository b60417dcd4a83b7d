// A pipeline's step, recorded as `spektate record` records it: through a Spektate server when
// SPEKTATE_SERVER is set (with the write token in SPEKTATE_TOKEN), else into the store.
//
// Settings come from the same environment variables as the `spektate` command:
//
//   SPEKTATE_SERVER=https://spektate.example.com   record through `spektate serve` ...
//   SPEKTATE_TOKEN=spk_...                         ... with a write token for the partition
//   SPEKTATE_STORE=postgres://ci@db/spektate       or straight into a store (default sqlite:spektate.db)
//   SPEKTATE_PARTITION_KEY=fabrikam                the project (default: default)
//
// Run it at the end of the image pipeline (p1); it prints the id of the deployment written:
//
//   node examples/record.mjs --p1 "$BUILD_ID" --image-tag "frontend-$BUILD_ID" \
//     --commit-id "$COMMIT" --service fabrikam/frontend [--status completed]
//
// --status also reports the run itself, for a CI Spektate has no API client for.
import { parseArgs } from 'node:util'

import { Recorder, ServerRecorder } from '@spektate/node'

const env = (name) => process.env[name]?.trim() || undefined

/** A recorder through the server the environment names, else into its store: both record the
 * same steps with the same arguments. */
function recorderFromEnv() {
  const partition = env('SPEKTATE_PARTITION_KEY') ?? 'default'
  const server = env('SPEKTATE_SERVER')
  if (server) return new ServerRecorder(server, { token: env('SPEKTATE_TOKEN') ?? '', partition })
  return new Recorder(env('SPEKTATE_STORE') ?? 'sqlite:spektate.db', partition)
}

const { values: args } = parseArgs({
  options: {
    p1: { type: 'string' },
    'image-tag': { type: 'string' },
    'commit-id': { type: 'string' },
    service: { type: 'string' },
    repository: { type: 'string' },
    status: { type: 'string' },
  },
})
for (const required of ['p1', 'image-tag', 'commit-id', 'service']) {
  if (args[required] === undefined) {
    console.error(`record: --${required} is required`)
    process.exit(2)
  }
}

try {
  const recorder = recorderFromEnv()
  const written = await recorder.imageBuilt({
    p1: args.p1, imageTag: args['image-tag'], commitId: args['commit-id'], service: args.service, repository: args.repository,
  })
  if (args.status !== undefined) await recorder.runReported({ id: args.p1, status: args.status })
  // A local Recorder answers with the record, a ServerRecorder with its id.
  console.log(typeof written === 'string' ? written : written.rowKey)
} catch (e) {
  console.error(`record: ${e.code ?? 'Error'}: ${e.message}`)
  process.exit(1)
}
