// Who can see a customer, on its card: its owner, the owner's managers and the users it is
// shared with; the owner, a manager or an admin adds and removes users here. The server
// checks the rights and makes the change (so the other rep's phone receives the card); the
// list comes from the server, with the card's own shared_with ids when offline.
import { useEffect, useState } from "preact/hooks";
import { getLang } from "../i18n";
import { app } from "../state";
import { flash } from "./toast";
import { HoldActions, refusal } from "./pool";

const S = {
  who_sees: ["谁能看到", "Who can see it"],
  owner: ["客户经理", "Owner"],
  managers: ["上级", "Managers"],
  shared: ["共享给", "Shared with"],
  nobody: ["未共享", "Not shared"],
  private_note: ["安全级别高于 0:共享暂不生效", "Security level above 0: sharing is suspended"],
  add: ["共享", "Share"],
  choose: ["选择同事", "Choose a colleague"],
  remove: ["取消共享", "Stop sharing"],
  offline: ["联网后可查看和更改共享", "Connect to see and change sharing"],
  shared_done: ["已共享", "Shared"],
  unshared_done: ["已取消共享", "No longer shared"],
  "share.not_yours": ["只有客户经理、其上级或管理员可以更改共享", "Only the owner, their manager or an admin may change sharing"],
  "share.no_user": ["没有这个用户,或已停用", "No such active user"],
  "share.too_many": ["共享人数已达上限", "Shared with the most users allowed"],
} as const;

function s(key: keyof typeof S): string {
  return S[key][getLang() === "zh" ? 0 : 1];
}

interface Person {
  id: string;
  name: string;
}

interface Sharing {
  owner: Person | null;
  managers: Person[];
  shared_with: Person[];
  private: boolean;
  may_change: boolean;
  candidates: Person[];
}

export function SharingSection({ id }: { id: string }) {
  const a = app!;
  const [sh, setSh] = useState<Sharing | null>(null);
  const [offline, setOffline] = useState(false);
  const [pick, setPick] = useState("");
  const [problem, setProblem] = useState("");
  const local = a.briefcase.infos.get(id)?.record.shared_with;

  const load = async () => {
    try {
      const r = await a.api.request("GET", `/api/customers/${id}/sharing`);
      setSh((await r.json()) as Sharing);
      setOffline(false);
    } catch {
      setOffline(true);
    }
  };
  useEffect(() => {
    void load();
  }, [id, JSON.stringify(local ?? [])]);

  const change = async (body: { add?: string; remove?: string }) => {
    try {
      const r = await a.api.request("POST", `/api/customers/${id}/sharing`, body);
      setSh((await r.json()) as Sharing);
      setPick("");
      setProblem("");
      flash(s(body.add ? "shared_done" : "unshared_done"));
    } catch (e) {
      const code = (e as { code?: string }).code ?? "";
      setProblem(code in S ? s(code as keyof typeof S) : refusal(e));
    }
  };

  return (
    <section class="sharing" id="sharing">
      <h2>{s("who_sees")}</h2>
      {offline && !sh && (
        <p class="muted">
          {s("offline")}
          {Array.isArray(local) && local.length > 0 && ` · ${s("shared")} ${local.length}`}
        </p>
      )}
      {sh && (
        <dl class="facts">
          <dt>{s("owner")}</dt>
          <dd id="sharing-owner">{sh.owner?.name ?? "—"}</dd>
          {sh.managers.length > 0 && (
            <>
              <dt>{s("managers")}</dt>
              <dd id="sharing-managers">{sh.managers.map((m) => m.name).join("、")}</dd>
            </>
          )}
          <dt>{s("shared")}</dt>
          <dd>
            {sh.shared_with.length === 0 && <span class="muted">{s("nobody")}</span>}
            <ul class="shared-with" id="shared-with">
              {sh.shared_with.map((u) => (
                <li data-user={u.id}>
                  {u.name}
                  {sh.may_change && (
                    <button class="link unshare" onClick={() => void change({ remove: u.id })}>
                      {s("remove")}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          </dd>
        </dl>
      )}
      {sh?.private && <p class="muted">{s("private_note")}</p>}
      {sh?.may_change && sh.candidates.length > 0 && (
        <div class="share-add">
          <select id="share-user" value={pick} onChange={(e) => setPick((e.target as HTMLSelectElement).value)}>
            <option value="">{s("choose")}</option>
            {sh.candidates.map((u) => (
              <option value={u.id}>{u.name}</option>
            ))}
          </select>
          <button class="primary" id="share-add" disabled={!pick} onClick={() => void change({ add: pick })}>
            {s("add")}
          </button>
        </div>
      )}
      {sh?.may_change && sh.owner && <HoldActions id={id} ownerId={sh.owner.id} invalid={a.briefcase.infos.get(id)?.record.status === "invalid"} />}
      {problem && (
        <p class="banner warn" role="alert" id="sharing-problem">
          {problem}
        </p>
      )}
    </section>
  );
}
