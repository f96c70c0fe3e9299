// Log in: online once; again later when the token is refused (the outbox is kept).
import { useState } from "preact/hooks";
import { ApiError, type Api, type Session } from "../api";
import { t } from "../i18n";
import type { Store } from "../store";

export function Login({ api, store, onDone, reason }: { api: Api; store: Store; onDone: (s: Session) => void; reason?: string | null }) {
  const [login, setLogin] = useState(api.session?.user.login ?? "");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    // Whose briefcase this device holds: kept apart from the session, which logout forgets.
    const previous = (await store.meta<string>("briefcaseUser")) ?? api.session?.user.id;
    try {
      const s = await api.login(login.trim(), password);
      if (previous && previous !== s.user.id) {
        // This device held another user's briefcase: only switch once it has all gone out.
        const unsent = (await store.all("outbox")).length;
        if (unsent) {
          await api.logout();
          setError(t("other_user_unsent", { n: unsent }));
          return;
        }
        await store.clearBriefcase();
      }
      await store.setMeta("briefcaseUser", s.user.id);
      onDone(s);
    } catch (err) {
      if (err instanceof ApiError) setError(`${t("login_failed")}: ${err.message}`);
      else setError(navigator.onLine ? `${t("login_failed")}: ${String(err)}` : t("login_needs_network"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="page login">
      <div class="brand">
        <img src="icon-192.png" alt="" width="72" height="72" />
        <h1>{t("app")}</h1>
      </div>
      {reason && <div class="banner warn">{reason}</div>}
      <form onSubmit={(e) => void submit(e)}>
        <div class="field">
          <label for="login">{t("username")}</label>
          <input id="login" name="login" autoComplete="username" value={login} onInput={(e) => setLogin((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="password">{t("password")}</label>
          <input id="password" name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </div>
        {error && (
          <div class="problem" role="alert" id="login-error">
            {error}
          </div>
        )}
        <button class="primary wide" type="submit" disabled={busy || !login || !password} id="login-submit">
          {t("login")}
        </button>
      </form>
    </div>
  );
}
