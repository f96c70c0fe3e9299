// HTTP calls to the server with the bearer token, and the session kept on the device.
import type { Store } from "./store";

export interface User {
  id: string;
  login: string;
  name: string;
  role: string;
  manager_id: string | null;
}

export interface Session {
  token: string;
  user: User;
}

/** An HTTP error in the server's one JSON shape: {"error": {"code", "message", ...}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The answer's headers (a tus 409 says where to resume in Upload-Offset). */
    readonly headers?: Headers,
  ) {
    super(message);
  }
}

export class Api {
  session: Session | null = null;

  constructor(readonly store: Store) {}

  async load(): Promise<void> {
    this.session = (await this.store.meta<Session>("session")) ?? null;
  }

  async deviceId(): Promise<string> {
    let id = await this.store.meta<string>("deviceId");
    if (!id) {
      id = `pwa-${crypto.randomUUID()}`;
      await this.store.setMeta("deviceId", id);
    }
    return id;
  }

  /** After the server revoked this device, later logins use a fresh device id. */
  async renewDeviceId(): Promise<void> {
    await this.store.setMeta("deviceId", `pwa-${crypto.randomUUID()}`);
  }

  async login(login: string, password: string): Promise<Session> {
    const device = await this.deviceId();
    const r = await this.request("POST", "/api/session", { login, password, device }, false);
    const s = (await r.json()) as Session;
    this.session = s;
    await this.store.setMeta("session", s);
    return s;
  }

  async logout(): Promise<void> {
    try {
      if (this.session) await this.request("DELETE", "/api/session");
    } catch {
      // offline or already revoked: the token is forgotten here either way
    }
    this.session = null;
    await this.store.setMeta("session", null);
  }

  /** Keep the user, drop the token: the UI asks for the password again. */
  async expire(): Promise<void> {
    if (this.session) {
      this.session = { ...this.session, token: "" };
      await this.store.setMeta("session", this.session);
    }
  }

  async request(method: string, path: string, body?: unknown, auth = true, headers: Record<string, string> = {}): Promise<Response> {
    const h: Record<string, string> = { ...headers };
    if (auth && this.session?.token) h.Authorization = `Bearer ${this.session.token}`;
    let payload: BodyInit | undefined;
    if (body instanceof Blob) payload = body;
    else if (body !== undefined) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await fetch(path, { method, headers: h, body: payload, cache: "no-store" });
    if (!r.ok) {
      let code = `http_${r.status}`;
      let message = r.statusText;
      try {
        const j = (await r.json()) as { error?: { code?: string; message?: string } };
        code = j.error?.code ?? code;
        message = j.error?.message ?? message;
      } catch {
        // not JSON
      }
      throw new ApiError(r.status, code, message, r.headers);
    }
    return r;
  }
}
