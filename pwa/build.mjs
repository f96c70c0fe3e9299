// Builds the PWA into server/static/app/: app.js, briefcase-worker.js and sw.js (esbuild), index.html, styles,
// the manifest, PNG icons drawn here, and a build-time copy of the schema. The service
// worker's cache is named by a hash of everything it precaches.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.WAIQIN_APP_OUT ?? join(here, "..", "server", "static", "app");
const PLACEHOLDER = "__WAIQIN_BUILD_VERSION__";

// -- icons: a blue rounded square with a white location pin ----------------------------------

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function png(size, pixel) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x / size, y / size);
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b; raw[o + 3] = a;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0)),
  ]);
}

function icon(size, maskable) {
  const BLUE = [31, 95, 191, 255], WHITE = [255, 255, 255, 255], CLEAR = [0, 0, 0, 0];
  const radius = maskable ? 0 : 0.2;
  const s = maskable ? 0.7 : 1; // keep the pin inside the maskable safe zone
  return png(size, (u, v) => {
    const cx = Math.min(Math.max(u, radius), 1 - radius), cy = Math.min(Math.max(v, radius), 1 - radius);
    if (radius && Math.hypot(u - cx, v - cy) > radius) return CLEAR;
    const x = (u - 0.5) / s + 0.5, y = (v - 0.5) / s + 0.5;
    const head = Math.hypot(x - 0.5, y - 0.4);
    const inTail = y > 0.4 && y < 0.8 && Math.abs(x - 0.5) < (0.8 - y) * 0.55;
    if ((head < 0.22 || inTail) && head >= 0.09) return WHITE;
    return BLUE;
  });
}

// -- build ----------------------------------------------------------------------------------

async function build() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const files = {};
  const app = await esbuild.build({
    entryPoints: [join(here, "src", "main.tsx")],
    // WAIQIN_BUILD_MINIFY=0 keeps names readable in a CPU profile.
    bundle: true, minify: process.env.WAIQIN_BUILD_MINIFY !== "0", format: "iife", target: ["es2020", "safari14"], write: false,
    jsx: "automatic", jsxImportSource: "preact", sourcemap: false, legalComments: "none",
    define: { __APP_VERSION__: JSON.stringify(PLACEHOLDER) },
  });
  files["app.js"] = Buffer.from(app.outputFiles[0].contents);
  // The briefcase's keeper (pwa/src/keeper.ts) in its Web Worker, beside app.js.
  const worker = await esbuild.build({
    entryPoints: [join(here, "src", "worker.ts")],
    bundle: true, minify: process.env.WAIQIN_BUILD_MINIFY !== "0", format: "iife", target: ["es2020", "safari14"], write: false,
    sourcemap: false, legalComments: "none",
  });
  files["briefcase-worker.js"] = Buffer.from(worker.outputFiles[0].contents);
  files["styles.css"] = readFileSync(join(here, "static", "styles.css"));
  files["index.html"] = readFileSync(join(here, "static", "index.html"));
  files["icon-192.png"] = icon(192, false);
  files["icon-512.png"] = icon(512, false);
  files["icon-maskable-512.png"] = icon(512, true);
  files["manifest.webmanifest"] = Buffer.from(JSON.stringify({
    name: "外勤 Waiqin", short_name: "外勤", lang: "zh-CN", dir: "ltr",
    description: "外勤客户管理:离线记录客户、拜访、服务单和照片 / Field CRM that works offline",
    start_url: "/app/", scope: "/app/", display: "standalone", orientation: "portrait",
    background_color: "#f4f6fa", theme_color: "#1f5fbf",
    icons: [
      { src: "icon-192.png", sizes: "192x192", type: "image/png" },
      { src: "icon-512.png", sizes: "512x512", type: "image/png" },
      { src: "icon-maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
    ],
  }, null, 2));
  const schema = schemaJson();
  if (schema) files["schema.json"] = schema;

  const hash = createHash("sha256");
  for (const name of Object.keys(files).sort()) hash.update(name).update("\0").update(files[name]);
  const version = hash.digest("hex").slice(0, 16);
  files["app.js"] = Buffer.from(files["app.js"].toString("utf8").replaceAll(PLACEHOLDER, version));

  const sw = await esbuild.build({
    entryPoints: [join(here, "src", "sw.ts")],
    bundle: true, minify: true, format: "iife", target: ["es2020"], write: false,
    define: {
      __VERSION__: JSON.stringify(version),
      __PRECACHE__: JSON.stringify(["./", ...Object.keys(files).sort()]),
    },
  });
  files["sw.js"] = Buffer.from(sw.outputFiles[0].contents);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(out, name), data);
  writeFileSync(join(out, "version.json"), JSON.stringify({ version, files: Object.keys(files).sort() }, null, 2));
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`built ${out} (version ${version}): app.js ${kb(files["app.js"].length)}, briefcase-worker.js ${kb(files["briefcase-worker.js"].length)}, sw.js ${kb(files["sw.js"].length)}${schema ? "" : "; no schema.json (the project's Python could not export it)"}`);
}

/** The schema as the server would publish it, when the project's Python is at hand. */
function schemaJson() {
  const py = [join(here, "..", ".venv", "bin", "python"), "python3"].find((p) => p === "python3" || existsSync(p));
  const r = spawnSync(py, ["-c", "import json; from schema.export import schema_json; print(json.dumps(schema_json(), ensure_ascii=False))"], { cwd: join(here, ".."), encoding: "utf8" });
  if (r.status !== 0) return null;
  return Buffer.from(r.stdout);
}

await build();
