// Hocuspocus + its SQLite extension, as its users run it, for bench/throughput.py --compare.
//
//   node server.mjs --port P --data DIR --debounce MS [--ack-stored]
//
// Stock `Server` + `SQLite({database: DIR/hocuspocus.db})` (better-sqlite3's defaults: rollback
// journal, synchronous=FULL), listening on 127.0.0.1. Hocuspocus answers every applied update
// with its own SyncStatus message (what @hocuspocus/provider counts as "synced"); that is the
// ack of the default-debounce peer: applied in memory, stored up to `debounce` ms later.
//
// With --ack-stored (used with --debounce 0) one extension is added, and only to report: before
// the SQLite extension stores a doc it notes how many updates the doc had applied (the stored
// state is encoded after that, so it holds at least those), and after the store it sends the
// doc's connections a stateless message "stored <n>". The device counts an update as acked when
// that n covers it: durably in the database, as waiqin's ACK means.
import { Server } from "@hocuspocus/server";
import { SQLite } from "@hocuspocus/extension-sqlite";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    data: { type: "string" },
    debounce: { type: "string", default: "2000" },
    "ack-stored": { type: "boolean", default: false },
  },
});
if (!values.port || !values.data) {
  console.error("usage: node server.mjs --port P --data DIR [--debounce MS] [--ack-stored]");
  process.exit(2);
}

const applied = new Map(); // doc name -> updates applied since it was loaded
const storing = new WeakMap(); // hook payload -> applied count when its store began

const ackStored = {
  priority: 1000, // before the SQLite extension's onStoreDocument (priority 100)
  async afterLoadDocument({ document, documentName }) {
    applied.set(documentName, 0);
    document.on("update", () => applied.set(documentName, applied.get(documentName) + 1));
  },
  async onStoreDocument(payload) {
    storing.set(payload, applied.get(payload.documentName) ?? 0);
  },
  async afterStoreDocument(payload) {
    const n = storing.get(payload);
    if (n === undefined) return;
    for (const connection of payload.document.getConnections()) {
      connection.sendStateless(`stored ${n}`);
    }
  },
  async afterUnloadDocument({ documentName }) {
    applied.delete(documentName);
  },
};

const extensions = [new SQLite({ database: join(values.data, "hocuspocus.db") })];
if (values["ack-stored"]) extensions.push(ackStored);

const server = new Server({
  port: Number(values.port),
  address: "127.0.0.1",
  debounce: Number(values.debounce),
  quiet: true,
  extensions,
});
await server.listen();
console.log(`hocuspocus listening on 127.0.0.1:${values.port}, debounce ${values.debounce} ms`);
