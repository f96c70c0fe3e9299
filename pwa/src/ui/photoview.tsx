// A photo full screen over the form: the bytes on the device, or the original fetched from
// the server; offline, an evicted photo shows its kept thumbnail and says why.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api";
import { t } from "../i18n";
import { app } from "../state";
import { icons } from "./icons";

export function PhotoViewer({ sha, onClose }: { sha: string; onClose: () => void }) {
  const a = app!;
  const online = navigator.onLine;
  const local = !a.photos.evicted(sha);
  const [full, setFull] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setFull(null);
    setProblem(null);
    if (local || online) {
      a.photos.original(sha).then(
        (u) => live && setFull(u),
        (e: unknown) => {
          // A fetch that never got an answer is the network, whatever navigator.onLine says.
          if (!live) return;
          setProblem(e instanceof ApiError ? t("photo_load_failed", { e: e.message }) : t("photo_view_offline"));
        },
      );
    }
    return () => {
      live = false;
    };
  }, [sha, online, local]);
  const thumb = full ? null : a.photos.url(sha);
  const note = full ? null : !local && !online ? t("photo_view_offline") : (problem ?? t("photo_loading"));
  return (
    <div class="viewer" id="photo-viewer" role="dialog" data-sha={sha} data-full={full ? "1" : "0"}>
      {full ? (
        <img id="photo-full" src={full} alt="" />
      ) : thumb ? (
        <img id="photo-thumb" src={thumb} alt="" />
      ) : (
        <div class="noimg">{icons.camera}</div>
      )}
      {note && (
        <p class="note" id="photo-note">
          {note}
        </p>
      )}
      <button type="button" class="secondary" id="photo-close" onClick={onClose}>
        {t("close")}
      </button>
    </div>
  );
}
