// The `/sync` wire protocol, mirrored from sync/protocol.py: frame types, close codes, and
// pure encode/decode over lib0's var-uint / var-string / var-byte-array. No I/O here.
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/** 2: the server packs frames into BATCH messages; a version-1 HELLO is refused by name. */
export const PROTOCOL_VERSION = 2;

export const FrameType = {
  HELLO: 0,
  WELCOME: 1,
  SYNC: 2,
  ACK: 3,
  ERROR: 4,
  PROGRESS: 5,
  CAUGHT_UP: 6,
  SCOPE_ENTER: 7,
  SCOPE_LEAVE: 8,
  BYE: 9,
  CURSOR: 10,
  BATCH: 11,
  /** A SYNC whose doc id `<kind>:<uuid>` travels as the kind and the uuid's 16 bytes. */
  SYNC_UUID: 12,
} as const;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** 16 bytes as a canonical lower-case uuid with hyphens. */
function uuidOf(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += HEX[b[i]];
  }
  return s;
}

/** y-protocols sync message types carried inside SYNC frames. */
export const SyncType = { STEP1: 0, STEP2: 1, UPDATE: 2 } as const;
export type SyncType = (typeof SyncType)[keyof typeof SyncType];

/** Websocket close codes; the same names as `CloseCode` in sync/protocol.py. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  INTERNAL_ERROR: 1011,
  SCOPE_CHANGED: 4205,
  MALFORMED_FRAME: 4400,
  BAD_TOKEN: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  BAD_VERSION: 4406,
  HELLO_TIMEOUT: 4408,
  REPLACED: 4409,
  DEVICE_REVOKED: 4410,
  FRAME_TOO_LARGE: 4413,
  INVALID_UPDATE: 4422,
  MERGED: 4430,
  TOO_SLOW: 4529,
} as const;

/** The JSON detail of an ERROR frame. */
export interface ErrorDetail {
  code: string;
  message: string;
  message_zh?: string;
  field?: string;
  rule?: string;
  problems?: Array<{ field?: string; rule?: string; message?: string; message_zh?: string }>;
  [key: string]: unknown;
}

export type Frame =
  /** `time`: the device's clock in ms (optional on the wire; the server clamps creation times). */
  | { type: "hello"; version: number; device: string; cursor: number; time?: number }
  | { type: "welcome"; version: number; user: string; head: number; maxFrame: number }
  | { type: "sync"; doc: string; n: number; kind: SyncType; payload: Uint8Array }
  | { type: "ack"; clock: number }
  | { type: "error"; doc: string; clock: number; detail: ErrorDetail }
  | { type: "progress"; done: number; total: number }
  | { type: "caught_up"; cursor: number }
  | { type: "scope_enter"; doc: string }
  | { type: "scope_leave"; doc: string; reason: string; redirect: string }
  | { type: "bye"; reason: string }
  | { type: "cursor"; cursor: number }
  /** Server -> device (version 2): several frames in one message, handled in order. */
  | { type: "batch"; frames: Frame[] };

export class ProtocolError extends Error {}

export function encode(frame: Frame): Uint8Array {
  const e = encoding.createEncoder();
  switch (frame.type) {
    case "hello":
      encoding.writeUint8(e, FrameType.HELLO);
      encoding.writeVarUint(e, frame.version);
      encoding.writeVarString(e, frame.device);
      encoding.writeVarUint(e, frame.cursor);
      if (frame.time) encoding.writeVarUint(e, frame.time);
      break;
    case "sync":
      encoding.writeUint8(e, FrameType.SYNC);
      encoding.writeVarString(e, frame.doc);
      encoding.writeVarUint(e, frame.n);
      encoding.writeVarUint(e, frame.kind);
      encoding.writeVarUint8Array(e, frame.payload);
      break;
    case "bye":
      encoding.writeUint8(e, FrameType.BYE);
      encoding.writeVarString(e, frame.reason);
      break;
    default:
      // The device only sends HELLO, SYNC and BYE; the rest is the server's to encode.
      throw new ProtocolError(`a device does not send ${frame.type} frames`);
  }
  return encoding.toUint8Array(e);
}

export function decode(data: Uint8Array): Frame {
  return decodeFrame(data, false);
}

/**
 * Every frame one message carries, in order: those inside a BATCH, else the frame itself.
 * The device hands each to the same handler as a frame that came alone.
 */
export function decodeAll(data: Uint8Array): Frame[] {
  const f = decodeFrame(data, false);
  return f.type === "batch" ? f.frames : [f];
}

function decodeFrame(data: Uint8Array, inBatch: boolean): Frame {
  if (data.length === 0) throw new ProtocolError("empty frame");
  const d = decoding.createDecoder(data);
  const type = decoding.readUint8(d);
  if (inBatch && (type === FrameType.HELLO || type === FrameType.BATCH)) {
    throw new ProtocolError(`a batch may not carry a ${type === FrameType.HELLO ? "HELLO" : "BATCH"}`);
  }
  let frame: Frame;
  try {
    switch (type) {
      case FrameType.HELLO:
        frame = {
          type: "hello",
          version: decoding.readVarUint(d),
          device: decoding.readVarString(d),
          cursor: decoding.readVarUint(d),
        };
        if (decoding.hasContent(d)) frame.time = decoding.readVarUint(d);
        break;
      case FrameType.WELCOME:
        frame = {
          type: "welcome",
          version: decoding.readVarUint(d),
          user: decoding.readVarString(d),
          head: decoding.readVarUint(d),
          maxFrame: decoding.readVarUint(d),
        };
        break;
      case FrameType.SYNC:
      case FrameType.SYNC_UUID: {
        let doc: string;
        if (type === FrameType.SYNC) doc = decoding.readVarString(d);
        else {
          const kindName = decoding.readVarString(d);
          if (d.arr.length - d.pos < 16) throw new ProtocolError("frame ends inside a uuid");
          doc = `${kindName}:${uuidOf(decoding.readUint8Array(d, 16))}`;
        }
        const n = decoding.readVarUint(d);
        const kind = decoding.readVarUint(d);
        if (kind > 2) throw new ProtocolError(`unknown sync message type ${kind}`);
        const view = decoding.readVarUint8Array(d);
        // Inside a batch the payload is copied out: a view would keep the whole message
        // alive, and IndexedDB would store the whole message's buffer with every record.
        frame = { type: "sync", doc, n, kind: kind as SyncType, payload: inBatch ? view.slice() : view };
        break;
      }
      case FrameType.ACK:
        frame = { type: "ack", clock: decoding.readVarUint(d) };
        break;
      case FrameType.ERROR: {
        const doc = decoding.readVarString(d);
        const clock = decoding.readVarUint(d);
        const raw = decoding.readVarString(d);
        let detail: ErrorDetail;
        try {
          detail = JSON.parse(raw) as ErrorDetail;
        } catch {
          throw new ProtocolError("error detail is not JSON");
        }
        if (typeof detail !== "object" || detail === null || typeof detail.code !== "string") {
          throw new ProtocolError("error detail must be an object with a string 'code'");
        }
        frame = { type: "error", doc, clock, detail };
        break;
      }
      case FrameType.PROGRESS:
        frame = { type: "progress", done: decoding.readVarUint(d), total: decoding.readVarUint(d) };
        break;
      case FrameType.CAUGHT_UP:
        frame = { type: "caught_up", cursor: decoding.readVarUint(d) };
        break;
      case FrameType.SCOPE_ENTER:
        frame = { type: "scope_enter", doc: decoding.readVarString(d) };
        break;
      case FrameType.SCOPE_LEAVE:
        frame = {
          type: "scope_leave",
          doc: decoding.readVarString(d),
          reason: decoding.readVarString(d),
          redirect: decoding.readVarString(d),
        };
        break;
      case FrameType.BYE:
        frame = { type: "bye", reason: decoding.readVarString(d) };
        break;
      case FrameType.CURSOR:
        frame = { type: "cursor", cursor: decoding.readVarUint(d) };
        break;
      case FrameType.BATCH: {
        const count = decoding.readVarUint(d);
        if (count > data.length) throw new ProtocolError(`batch of ${count} frames in ${data.length} bytes`);
        const frames: Frame[] = [];
        for (let i = 0; i < count; i++) {
          const part = decoding.readVarUint8Array(d);
          try {
            frames.push(decodeFrame(part, true));
          } catch (e) {
            throw new ProtocolError(`frame ${i} of a batch: ${(e as Error).message}`);
          }
        }
        frame = { type: "batch", frames };
        break;
      }
      default:
        throw new ProtocolError(`unknown frame type ${type}`);
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError(`malformed frame of type ${type}: ${(e as Error).message}`);
  }
  if (decoding.hasContent(d)) throw new ProtocolError("unexpected trailing bytes");
  return frame;
}

const DOC_ID_RE = /^([a-z][a-z_]{1,30}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The kind of a doc id, or null when it is not `<kind>:<uuid>`. */
export function docKind(docId: string): string | null {
  const m = DOC_ID_RE.exec(docId);
  return m ? m[1] : null;
}

export function newDocId(kind: string): string {
  return `${kind}:${crypto.randomUUID()}`;
}
