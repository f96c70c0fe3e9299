// A stock Yjs client: yjs + y-websocket's WebsocketProvider, as any integrator would run it.
// Usage: node yjs_client.mjs <ws://host/yjs> <doc id> <token> '<json fields to set>'
// Prints one JSON line per event: {"event":"synced","record":...}, {"event":"wrote"},
// {"event":"change","record":...}, {"event":"closed","code":...,"reason":...}. Exits when
// stdin closes.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [url, docId, token, fieldsJson] = process.argv.slice(2)
const fields = JSON.parse(fieldsJson || '{}')
const doc = new Y.Doc()
const record = doc.getMap('record')
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')

const provider = new WebsocketProvider(url, docId, doc, {
  params: { token },
  WebSocketPolyfill: WebSocket,
  connect: true,
  maxBackoffTime: 200,
})

provider.on('connection-close', (event) => {
  if (event) say({ event: 'closed', code: event.code, reason: String(event.reason || '') })
})

provider.once('sync', (synced) => {
  say({ event: 'synced', synced, record: record.toJSON() })
  doc.transact(() => {
    for (const [k, v] of Object.entries(fields)) record.set(k, v)
  })
  say({ event: 'wrote' })
  record.observe(() => say({ event: 'change', record: record.toJSON() }))
})

process.stdin.resume()
process.stdin.on('end', () => {
  provider.destroy()
  process.exit(0)
})
