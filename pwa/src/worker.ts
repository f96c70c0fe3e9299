// The briefcase's Web Worker (briefcase-worker.js): a Keeper (keeper.ts) on its own
// IndexedDB connection, so merging server updates, writing them and reading the briefcase
// back happen off the page's main thread.
import { Keeper, type KeeperReply, type KeeperRequest } from "./keeper";
import { Store } from "./store";

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (r: KeeperReply) => scope.postMessage(r);
let keeper: Promise<Keeper | null> | null = null;

scope.onmessage = (ev: MessageEvent<KeeperRequest | { t: "open"; db: string }>) => {
  const msg = ev.data;
  if (msg.t === "open") {
    keeper = Store.open(msg.db).then(
      (store) => new Keeper(store, post),
      (e: unknown) => {
        post({ t: "failed", message: String(e) });
        return null;
      },
    );
    return;
  }
  // Callbacks on one promise run in the order they were added: requests keep their order.
  void keeper?.then((k) => k?.receive(msg));
};
