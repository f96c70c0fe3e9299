// The device's side of the server's tus 1.0.0 uploads (docs/blobs.md): create an upload, ask
// how far it got, append a chunk from an offset. Each call is one request; the photo queue
// decides what to do next.
import type { Api } from "./api";
import { ApiError } from "./api";

export const TUS_VERSION = "1.0.0";
const UPLOADS = "/api/uploads";

/** The server's answer to a creation: where to PATCH, or that it has the bytes already. */
export type Created = { url: string; offset: 0 } | { url: null; offset: number };

function b64(text: string): string {
  return btoa(text); // hex hashes and media types are ASCII
}

function offsetOf(r: Response | Headers | undefined): number {
  const h = r instanceof Response ? r.headers : r;
  const v = Number(h?.get("Upload-Offset"));
  if (!Number.isSafeInteger(v) || v < 0) throw new ApiError(0, "bad_offset", "the server sent no Upload-Offset");
  return v;
}

/** POST /api/uploads. A 200 means the server already has these bytes for this user. */
export async function createUpload(api: Api, sha256: string, mediaType: string, length: number): Promise<Created> {
  const r = await api.request("POST", UPLOADS, undefined, true, {
    "Tus-Resumable": TUS_VERSION,
    "Upload-Length": String(length),
    "Upload-Metadata": `sha256 ${b64(sha256)},type ${b64(mediaType)}`,
  });
  if (r.status === 200) return { url: null, offset: offsetOf(r) };
  const location = r.headers.get("Location");
  if (!location) throw new ApiError(r.status, "no_location", "the server created an upload without a Location");
  // Same origin as every other call: only the path is kept.
  return { url: new URL(location, globalThis.location.href).pathname, offset: 0 };
}

/** HEAD an upload: the offset the server has stored (equal to the length once complete). */
export async function uploadOffset(api: Api, url: string): Promise<number> {
  return offsetOf(await api.request("HEAD", url, undefined, true, { "Tus-Resumable": TUS_VERSION }));
}

/**
 * PATCH `chunk` at `offset`; returns the server's new offset. When the server is elsewhere
 * (409 offset_mismatch), returns where it says to resume instead of failing.
 */
export async function appendChunk(api: Api, url: string, offset: number, chunk: Blob): Promise<number> {
  try {
    const r = await api.request("PATCH", url, chunk, true, {
      "Tus-Resumable": TUS_VERSION,
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
    });
    return offsetOf(r);
  } catch (e) {
    if (e instanceof ApiError && e.status === 409) return offsetOf(e.headers);
    throw e;
  }
}
