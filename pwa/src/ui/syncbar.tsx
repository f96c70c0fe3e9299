// The always-visible sync indicator, and the sync page with refused changes to fix and
// every photo with its record, caption and upload state.
import { app, appChanged } from "../state";
import { fmtAgo, fmtTime, getLang, t } from "../i18n";
import { CloseCode, docKind } from "../protocol";
import { str, type Values } from "../records";
import { icons } from "./icons";

// The persistent-storage warning is read once (it says what to do), then stays a mark on
// the indicator; remembered per device, since it is the browser's answer for this device.
const PERSIST_SEEN = "waiqin.persistWarned";

function persistAtRisk(): boolean {
  const a = app!;
  return a.persisted === false && a.briefcase.outbox.length + a.photos.pending().length > 0;
}

export function editHref(docId: string): string {
  const kind = docKind(docId);
  return kind === "customer" ? `#/c/${docId}` : kind === "deal" ? `#/d/${docId}` : `#/edit/${docId}`;
}

export function stateText(): { text: string; cls: string } {
  const a = app!;
  const s = a.sync.status;
  if (!navigator.onLine || s.state === "offline") return { text: t("offline"), cls: "off" };
  switch (s.state) {
    case "live":
      if (a.briefcase.unsent().length) return { text: t("syncing"), cls: "busy" };
      if (a.briefcase.refused().length) return { text: t("needs_fixing"), cls: "warn" };
      return { text: t("synced"), cls: "ok" };
    case "connecting":
      return { text: t("connecting"), cls: "busy" };
    case "catching_up":
      return {
        text: s.progress ? t("catching_up", { d: s.progress.done, t: s.progress.total }) : t("syncing"),
        cls: "busy",
      };
    case "waiting":
      return { text: t("waiting"), cls: "warn" };
    case "login":
      return { text: t("needs_login"), cls: "warn" };
    default:
      if (s.closeCode === CloseCode.BAD_VERSION) return { text: t("needs_update"), cls: "warn" };
      return { text: t("stopped"), cls: "warn" };
  }
}

export function SyncBar() {
  const a = app!;
  const st = stateText();
  const unsent = a.briefcase.unsent().length;
  const photos = a.photos.pending().length;
  const refused = a.briefcase.refused().length;
  return (
    <a class={`syncbar ${st.cls}`} href="#/sync" id="syncbar" aria-live="polite">
      <span class="dot" />
      <span class="state" data-state={a.sync.status.state}>
        {st.text}
      </span>
      <span class="count" data-unsent={unsent}>
        {t("unsent", { n: unsent })}
      </span>
      {photos > 0 && (
        <span class="count" data-photos={photos}>
          {t("unsent_photos", { n: photos })}
        </span>
      )}
      {refused > 0 && (
        <span class="count refused" data-refused={refused}>
          {t("refused_n", { n: refused })}
        </span>
      )}
      {persistAtRisk() && (
        <span class="count persist-mark" data-persist="refused" title={t("persist_refused")}>
          ⚠ {t("persist_mark")}
        </span>
      )}
      <span class="last">{a.sync.status.lastSync ? t("last_sync", { t: fmtAgo(a.sync.status.lastSync) }) : t("never_synced")}</span>
    </a>
  );
}

export function Banners() {
  const a = app!;
  const unsent = a.briefcase.outbox.length + a.photos.pending().length;
  return (
    <>
      {a.briefcase.storageError && (
        <div class="banner error" role="alert">
          {a.briefcase.storageError.quota && <b>{t("storage_quota")}: </b>}
          {t("storage_error", { e: a.briefcase.storageError.message })}
        </div>
      )}
      {document.body.dataset.update === "ready" && (
        <div class="banner warn persist" id="update-ready">
          {t("update_ready")}{" "}
          <button class="link" onClick={() => location.reload()}>
            ↻
          </button>
        </div>
      )}
      {a.persisted === false && unsent > 0 && !localStorage.getItem(PERSIST_SEEN) && (
        <div class="banner warn persist" id="persist-warning" role="alert">
          <p>{t("persist_refused")}</p>
          <p>{t("persist_howto")}</p>
          <button
            type="button"
            class="secondary"
            id="persist-ok"
            onClick={() => {
              localStorage.setItem(PERSIST_SEEN, String(Date.now()));
              appChanged();
            }}
          >
            {t("persist_ok")}
          </button>
        </div>
      )}
    </>
  );
}

export function SyncPage() {
  const a = app!;
  const s = a.sync.status;
  const st = stateText();
  const zh = getLang() === "zh";
  const refused = a.briefcase.refused();
  return (
    <div class="page">
      <h1>{t("sync_status")}</h1>
      <dl class="facts">
        <dt>{t("sync_status")}</dt>
        <dd>
          {st.text} ({navigator.onLine ? t("online") : t("offline")})
        </dd>
        <dt>{t("unsent", { n: "" }).trim()}</dt>
        <dd id="unsent-count">{a.briefcase.unsent().length}</dd>
        <dt>{t("photos")}</dt>
        <dd>{t("photos_pending", { p: a.photos.pending().length, n: a.photos.photos.size })}</dd>
        <dt>{t("storage")}</dt>
        <dd id="storage-state">
          {a.persisted ? t("persisted_yes") : t("persisted_no")}
          {a.persisted === false && <div class="hint">{t("persist_howto")}</div>}
        </dd>
        <dt>{t("last_sync", { t: "" }).trim()}</dt>
        <dd>{s.lastSync ? fmtTime(s.lastSync) : t("never_synced")}</dd>
        {s.closeCode && s.state !== "live" && (
          <>
            <dt>close</dt>
            <dd>
              {s.closeCode} {s.closeReason}
            </dd>
          </>
        )}
      </dl>
      <button class="primary" onClick={() => (a.sync.kick(), a.photos.kick({ rejected: true }))}>
        {t("sync_now")}
      </button>
      <h2>{t("refused_changes")}</h2>
      {refused.length === 0 && <p class="muted">{t("no_refused")}</p>}
      <ul class="refused-list">
        {refused.map((e) => {
          const d = e.refused!;
          const rec = a.briefcase.record(e.doc);
          return (
            <li class="refused-item" data-doc={e.doc}>
              <div>
                <b>{str(rec.name || rec.title || rec.subject || e.doc)}</b>
              </div>
              <div class="reason">{(zh ? d.message_zh : d.message) || d.message}</div>
              <div class="muted">
                {d.field} {d.rule}
              </div>
              <a class="button secondary" href={editHref(e.doc)}>
                {t("fix")}
              </a>
            </li>
          );
        })}
      </ul>
      <h2>{t("photos")}</h2>
      <ul class="photo-states">
        {[...a.photos.photos.values()]
          .filter((p) => !a.photos.isHeld(p.sha256))
          .sort((x, y) => y.createdAt - x.createdAt)
          .map((p) => {
            const doc = a.briefcase.resolve(p.doc);
            const rec = a.briefcase.record(doc);
            const entry = ((Array.isArray(rec.attachments) ? rec.attachments : []) as Values[]).find((x) => x.sha256 === p.sha256);
            const kind = docKind(doc);
            const customer = typeof rec.customer_id === "string" ? str(a.briefcase.record(a.briefcase.resolve(rec.customer_id)).name) : "";
            const title = str(rec.name || rec.subject || rec.title) || (kind === "visit" ? str(rec.met_name) : "");
            const url = a.photos.url(p.sha256);
            return (
              <li data-sha={p.sha256} data-state={p.state} data-evicted={p.blob ? undefined : "1"} data-doc={doc}>
                <a href={editHref(doc)} class="photo-row">
                  {url ? <img src={url} alt="" class="mini" /> : <span class="mini noimg">{icons.camera}</span>}
                  <span class="what">
                    <span class="rec">
                      {kind && <span class={`tag ${kind}`}>{t(kind as "visit")}</span>} {[customer, title].filter(Boolean).join(" · ") || "—"}
                    </span>
                    <span class="caption">{str(entry?.caption) || <span class="muted">{t("photo_no_caption")}</span>}</span>
                    <span class={`pstate ${p.state}`}>
                      {t(`photo_${p.state}` as "photo_queued")}
                      {p.state === "uploading" && p.offset !== undefined ? ` ${t("photo_progress", { p: Math.floor((100 * p.offset) / p.size) })}` : ""}
                      <span class="muted"> · {Math.round(p.size / 1024)} KB</span>
                      {p.error ? ` (${p.error})` : ""}
                      {p.blob ? "" : ` · ${t("photo_thumb_only")}`}
                    </span>
                  </span>
                </a>
              </li>
            );
          })}
      </ul>
    </div>
  );
}
