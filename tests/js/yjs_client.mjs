// A stock Yjs client: yjs + y-websocket's WebsocketProvider, as any integrator would run it.
// Usage: node yjs_client.mjs <ws://host/yjs> <doc id> <token> '<json fields to set>' [v2]
// `v2` runs y-websocket 2.x (installed as y-websocket-v2), else the current 3.x. The fields
// are written the way docs/protocol.md says, with the Y type each field has in the schema the
// server publishes at /api/schema: Y.Text for text, Y.Array of Y.Map for lists of objects.
// Prints one JSON line per event: {"event":"synced","record":...}, {"event":"wrote"},
// {"event":"change","record":...}, {"event":"closed","code":...,"reason":...} (every close
// the server makes, permanent or not) and {"event":"stopped"} (3.x gave up reconnecting).
// Exits when stdin closes.
import * as Y from 'yjs'
import * as v3 from 'y-websocket'
import * as v2 from 'y-websocket-v2'
import WebSocket from 'ws'

const [url, docId, token, fieldsJson, version] = process.argv.slice(2)
const { WebsocketProvider } = version === 'v2' ? v2 : v3
const fields = JSON.parse(fieldsJson || '{}')
const doc = new Y.Doc()
const record = doc.getMap('record')
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n')

const kindName = docId.split(':')[0]
const schemaUrl = url.replace(/^ws/, 'http').replace(/\/yjs\/?$/, '/api/schema')
const schema = await (await fetch(schemaUrl)).json()
const kind = schema.kinds.find((k) => k.name === kindName)

// A plain JSON value as the Y value the field's declaration asks for.
const yValue = (field, value) => {
  if (value === null || value === undefined || field === undefined) return value
  if (field.y_type === 'text') return new Y.Text(String(value))
  if (field.y_type === 'array') {
    const arr = new Y.Array()
    arr.push(value.map((item) => (field.items ? yMap(field.items, item) : item)))
    return arr
  }
  return value
}
const yMap = (declared, values) => {
  const m = new Y.Map()
  for (const [k, v] of Object.entries(values)) m.set(k, yValue(declared.find((f) => f.name === k), v))
  return m
}
const declared = (name) => kind.fields.find((f) => f.name === name)

const provider = new WebsocketProvider(url, docId, doc, {
  params: { token },
  WebSocketPolyfill: WebSocket,
  connect: true,
  maxBackoffTime: 200,
  disableBc: true,
})

provider.on('connection-close', (event) => {
  if (event) say({ event: 'closed', code: event.code, reason: String(event.reason || '') })
})
provider.on('closed', () => say({ event: 'stopped' }))

provider.once('sync', (synced) => {
  say({ event: 'synced', synced, record: record.toJSON() })
  if (Object.keys(fields).length > 0) {
    doc.transact(() => {
      for (const [k, v] of Object.entries(fields)) record.set(k, yValue(declared(k), v))
    })
    say({ event: 'wrote' })
  }
  record.observeDeep(() => say({ event: 'change', record: record.toJSON() }))
})

process.stdin.resume()
process.stdin.on('end', () => {
  provider.destroy()
  process.exit(0)
})
