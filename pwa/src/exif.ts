// Capture time and GPS fix from a JPEG's EXIF (the APP1 segment's TIFF structure), read from
// the original file before compression drops them. Pure: bytes in, values out; bad or absent
// EXIF gives an empty result and never an exception.

/** What a photo says about itself; every field is absent when missing or implausible. */
export interface PhotoExif {
  /** DateTimeOriginal as epoch ms (its OffsetTimeOriginal if given, else this device's zone). */
  capturedAt?: number;
  /** Degrees, rounded to 1e-6 like the GPS check-in; south and west are negative. */
  lat?: number;
  lon?: number;
  /** GPSHPositioningError in metres, when the camera wrote it. */
  accuracy?: number;
}

/** EXIF lives in the first segments; this much of the file is enough to find it. */
export const EXIF_SCAN_BYTES = 256 * 1024;

// The plausible range of capture times (as the schema's timestamps: 2000..2100).
const MIN_TIME = 946_684_800_000;
const MAX_TIME = 4_102_444_800_000;
const MAX_ENTRIES = 1000; // an IFD claiming more is garbage

const TAG_EXIF_IFD = 0x8769;
const TAG_GPS_IFD = 0x8825;
const TAG_DATETIME_ORIGINAL = 0x9003;
const TAG_OFFSET_TIME_ORIGINAL = 0x9011;
const TAG_SUBSEC_TIME_ORIGINAL = 0x9291;
const GPS_LAT_REF = 0x01;
const GPS_LAT = 0x02;
const GPS_LON_REF = 0x03;
const GPS_LON = 0x04;
const GPS_STATUS = 0x09;
const GPS_H_POSITIONING_ERROR = 0x1f;

/** Bytes per value of each TIFF field type (1 BYTE … 12 DOUBLE). */
const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

interface Entry {
  type: number;
  count: number;
  /** Where the value starts inside the TIFF view. */
  at: number;
}

/** The EXIF of a picked file; reads only its first EXIF_SCAN_BYTES. */
export async function readExifFile(file: Blob): Promise<PhotoExif> {
  try {
    return readExif(new Uint8Array(await file.slice(0, EXIF_SCAN_BYTES).arrayBuffer()));
  } catch {
    return {}; // an unreadable file still becomes a photo; the caller falls back
  }
}

export function readExif(bytes: Uint8Array): PhotoExif {
  try {
    const tiff = findTiff(bytes);
    return tiff ? parseTiff(tiff) : {};
  } catch {
    return {}; // a DataView read past the end of a damaged segment
  }
}

/** The TIFF block of the first "Exif\0\0" APP1 segment, or null. */
function findTiff(b: Uint8Array): DataView | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null; // not a JPEG
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null; // lost the segment chain
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // image data or end: no metadata after
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    const length = (b[i + 2] << 8) | b[i + 3];
    if (length < 2) return null;
    const start = i + 4;
    const end = i + 2 + length;
    if (marker === 0xe1 && end <= b.length && length >= 2 + 6 + 8 && isExifHeader(b, start)) {
      return new DataView(b.buffer, b.byteOffset + start + 6, end - start - 6);
    }
    i = end;
  }
  return null;
}

function isExifHeader(b: Uint8Array, at: number): boolean {
  // "Exif\0\0"
  return b[at] === 0x45 && b[at + 1] === 0x78 && b[at + 2] === 0x69 && b[at + 3] === 0x66 && b[at + 4] === 0 && b[at + 5] === 0;
}

function parseTiff(v: DataView): PhotoExif {
  const order = v.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return {};
  const le = order === 0x4949; // "II" little-endian, "MM" big-endian
  if (v.getUint16(2, le) !== 42) return {};
  const ifd0 = readIfd(v, v.getUint32(4, le), le);
  const out: PhotoExif = {};
  const exifAt = ifd0.get(TAG_EXIF_IFD);
  if (exifAt) {
    const exif = readIfd(v, firstUint(v, exifAt, le), le);
    const t = captureTime(v, exif);
    if (t !== undefined) out.capturedAt = t;
  }
  const gpsAt = ifd0.get(TAG_GPS_IFD);
  if (gpsAt) Object.assign(out, gpsFix(v, readIfd(v, firstUint(v, gpsAt, le), le), le));
  return out;
}

/** One IFD's entries by tag; an IFD out of bounds reads as empty. */
function readIfd(v: DataView, offset: number, le: boolean): Map<number, Entry> {
  const entries = new Map<number, Entry>();
  if (offset < 8 || offset + 2 > v.byteLength) return entries;
  const n = v.getUint16(offset, le);
  if (n > MAX_ENTRIES || offset + 2 + n * 12 > v.byteLength) return entries;
  for (let k = 0; k < n; k++) {
    const e = offset + 2 + k * 12;
    const tag = v.getUint16(e, le);
    const type = v.getUint16(e + 2, le);
    const count = v.getUint32(e + 4, le);
    const size = TYPE_SIZE[type];
    if (!size || count === 0 || count > v.byteLength) continue;
    const bytes = size * count;
    const at = bytes <= 4 ? e + 8 : v.getUint32(e + 8, le);
    if (at + bytes > v.byteLength) continue; // points outside the segment
    if (!entries.has(tag)) entries.set(tag, { type, count, at });
  }
  return entries;
}

/** A LONG or SHORT value (IFD pointers are LONG, but some writers use SHORT). */
function firstUint(v: DataView, e: Entry, le: boolean): number {
  if (e.type === 4) return v.getUint32(e.at, le);
  if (e.type === 3) return v.getUint16(e.at, le);
  return 0;
}

function ascii(v: DataView, e: Entry | undefined): string | undefined {
  if (!e || (e.type !== 2 && e.type !== 7)) return undefined;
  let s = "";
  for (let k = 0; k < e.count; k++) {
    const c = v.getUint8(e.at + k);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s.trim();
}

/** RATIONAL (unsigned) or SRATIONAL values; a zero denominator gives NaN. */
function rationals(v: DataView, e: Entry | undefined, le: boolean): number[] {
  if (!e || (e.type !== 5 && e.type !== 10)) return [];
  const out: number[] = [];
  for (let k = 0; k < e.count; k++) {
    const at = e.at + k * 8;
    const num = e.type === 5 ? v.getUint32(at, le) : v.getInt32(at, le);
    const den = e.type === 5 ? v.getUint32(at + 4, le) : v.getInt32(at + 4, le);
    out.push(den === 0 ? NaN : num / den);
  }
  return out;
}

/** Degrees from [d, m, s] (m and s may be left out) and a reference letter. */
function degrees(parts: number[], ref: string | undefined, positive: string, negative: string, max: number): number | undefined {
  if (parts.length < 1 || parts.length > 3 || !parts.every((x) => Number.isFinite(x) && x >= 0)) return undefined;
  const [d, m = 0, s = 0] = parts;
  if (m >= 60 || s >= 60) return undefined;
  const value = d + m / 60 + s / 3600;
  if (value > max) return undefined;
  // A missing or unknown reference leaves the hemisphere unknown: no fix rather than a wrong one.
  const r = ref?.toUpperCase();
  if (r !== positive && r !== negative) return undefined;
  return Math.round((r === negative ? -value : value) * 1e6) / 1e6;
}

function gpsFix(v: DataView, gps: Map<number, Entry>, le: boolean): PhotoExif {
  if (ascii(v, gps.get(GPS_STATUS))?.toUpperCase() === "V") return {}; // "measurement void"
  const lat = degrees(rationals(v, gps.get(GPS_LAT), le), ascii(v, gps.get(GPS_LAT_REF)), "N", "S", 90);
  const lon = degrees(rationals(v, gps.get(GPS_LON), le), ascii(v, gps.get(GPS_LON_REF)), "E", "W", 180);
  if (lat === undefined || lon === undefined) return {};
  if (lat === 0 && lon === 0) return {}; // a camera without a fix writing zeros
  const out: PhotoExif = { lat, lon };
  const [err] = rationals(v, gps.get(GPS_H_POSITIONING_ERROR), le);
  if (err !== undefined && Number.isFinite(err) && err >= 0 && err < 1e6) out.accuracy = Math.max(1, Math.round(err));
  return out;
}

/** DateTimeOriginal "YYYY:MM:DD HH:MM:SS" with its sub-seconds and UTC offset, as epoch ms. */
function captureTime(v: DataView, exif: Map<number, Entry>): number | undefined {
  const text = ascii(v, exif.get(TAG_DATETIME_ORIGINAL));
  const m = text?.match(/^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const sub = ascii(v, exif.get(TAG_SUBSEC_TIME_ORIGINAL));
  const ms = sub && /^\d+$/.test(sub) ? Math.floor(Number(`0.${sub}`) * 1000) : 0;
  const offset = ascii(v, exif.get(TAG_OFFSET_TIME_ORIGINAL))?.match(/^([+-])(\d{2}):(\d{2})$/);
  let t: number;
  if (offset) {
    const minutes = (Number(offset[2]) * 60 + Number(offset[3])) * (offset[1] === "-" ? -1 : 1);
    t = Date.UTC(y, mo - 1, d, h, mi, s, ms) - minutes * 60_000;
  } else {
    // No zone written: the camera's clock is taken as this device's (it usually is the device).
    t = new Date(y, mo - 1, d, h, mi, s, ms).getTime();
  }
  const back = new Date(Date.UTC(y, mo - 1, d));
  if (back.getUTCDate() !== d) return undefined; // 30 February and the like
  return t >= MIN_TIME && t < MAX_TIME ? t : undefined;
}
