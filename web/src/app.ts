// The Kluis web client: loads the SDK (WebAssembly) and the sealed device
// state, then shows the screen the address asks for. Everything secret
// stays inside the module; the session is an HttpOnly cookie this script
// cannot read. The TypeScript only renders and calls the SDK.
import init, { KluisClient, type KluisSession } from "../pkg/kluis_sdk.js";
import { openDevice } from "./device.js";
import { WASM_INTEGRITY } from "./integrity.js";
import { strengthReady } from "./strength.js";
import { forgetUnfinished } from "./files.js";
import { t, language, setLanguage, missingKeys } from "./i18n.js";
import { card, el } from "./dom.js";
import { showSetup } from "./setup.js";
import { showInvitation } from "./invitation.js";
import { showLogin, showReset, type LoginState } from "./login.js";
import { showPrivacyNotice } from "./privacy.js";
import { showVerify, showEmailChange } from "./links.js";
import { showHome, type Home } from "./home.js";
import { IdleLock } from "./idle.js";
import type { App, Me } from "./types.js";

const root = document.getElementById("app") as HTMLElement;
const status = document.getElementById("status");
if (status) status.textContent = t("loading");

declare global {
  interface Window {
    kluis: Record<string, unknown>;
    kluisReady: boolean;
    kluisReadyMs: number;
    kluisError: string;
  }
}

async function start(): Promise<void> {
  // The wasm is fetched with its SRI hash (the bundle's): a server that
  // alters it gets a refusal, not a running module.
  const wasm = await init({
    module_or_path: WASM_INTEGRITY
      ? new Request("/pkg/kluis_sdk_bg.wasm", { integrity: WASM_INTEGRITY })
      : undefined,
  });
  // The sealed device state (pins, verified peers, membership records),
  // kept in IndexedDB across reloads: loaded whole, persisted by the SDK
  // after every step that changes it.
  const device = await openDevice();
  const client = new KluisClient(window.location.origin, device);
  let session: KluisSession | null = null;
  let home: Home | null = null;
  let idle: IdleLock | null = null;
  const login: LoginState = {};

  const app: App = {
    root,
    client,
    async signedIn(s: KluisSession, created = false) {
      session = s;
      // A new account speaks the language its owner chose on the page;
      // afterwards the account's language decides (home.ts).
      const me = (created ? await s.setPreferences(language(), undefined) : await s.me()) as Me;
      // Signed in, the account's language decides (the notice is in it).
      if (me.language !== language()) setLanguage(me.language);
      idle?.stop();
      if (me.session_idle_ms) {
        const minutes = Math.round(me.session_idle_ms / 60000);
        idle = new IdleLock(me.session_idle_ms, () => {
          void s.logout().catch(() => undefined);
          app.signedOut(t("locked_idle", { minutes }), true);
        });
      }
      const enter = async () => {
        home = await showHome(app, s);
      };
      if (me.privacy_notice_pending) await showPrivacyNotice(app, s, enter);
      else await enter();
    },
    signedOut(reason?: string, keepPlace = false) {
      idle?.stop();
      idle = null;
      home?.stop();
      home = null;
      // The identity and epoch keys leave the module's memory with the
      // session (a Promise still running keeps its own hold until done).
      const ended = session;
      session = null;
      forgetUnfinished();
      if (ended) {
        setTimeout(() => {
          try {
            ended.free();
          } catch {
            // Freed already.
          }
        }, 0);
      }
      if (!keepPlace || location.pathname !== "/") history.replaceState(null, "", "/");
      login.reason = reason;
      login.password = "";
      showLogin(app, login);
    },
  };

  // Steps a test calls directly, beside the screens.
  window.kluis = {
    async checkPassword(password: string) {
      await strengthReady();
      return KluisClient.checkPassword(password);
    },
    lookupInvitation: (link: string) => client.lookupInvitation(link),
    async signUp(link: string, name: string, password: string) {
      const done = await client.signUp(link, name, password);
      session = done.takeSession() ?? null;
      return { accountId: session?.accountId, recoveryKey: done.recoveryKey };
    },
    async login(email: string, password: string) {
      try {
        session = await client.login(email, password);
      } catch (e) {
        // The name says what happened (`local_store_missing`, …).
        const err = e as Error;
        throw new Error(`${err.name}: ${err.message}`);
      }
      return { accountId: session.accountId };
    },
    // The user's explicit decision after local_store_missing/unreadable.
    startFresh: () => (client.startFresh(), true),
    async timeLogins(email: string, password: string, times: number) {
      const ms: number[] = [];
      for (let i = 0; i < times; i++) {
        const t0 = performance.now();
        const s = await client.login(email, password);
        ms.push(performance.now() - t0);
        await s.logout();
      }
      return ms;
    },
    relationships: () => session!.relationships(),
    dialogue: (rid: string) => session!.dialogue(rid),
    send: (rid: string, text: string) => session!.sendMessage(rid, text),
    deleteItem: (rid: string, item: string) => session!.deleteItem(rid, item),
    safetyNumber: (peer: string) => session!.safetyNumber(peer),
    verify: (peer: string, digits: string) => session!.verifySafetyNumber(peer, digits),
    acceptKeyChange: (peer: string, digits: string) => session!.acceptKeyChange(peer, digits),
    deferKeyChange: (peer: string) => session!.deferKeyChange(peer),
    keyChanges: () => session!.keyChanges(),
    membership: (rid: string) => session!.membership(rid),
    reauthenticate: (password: string) => session!.reauthenticate(password),
    // What the page keeps outside the module, for the test to inspect.
    deviceRecords: () => device.inspect(),
    forgetDeviceState: () => device.forgetStates(),
    missingKeys: () => missingKeys(),
    // The SDK's WebAssembly memory, bytes (it grows, never shrinks).
    wasmMemoryBytes: () => wasm.memory.buffer.byteLength,
    webStorage: () => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
    }),
    async logout() {
      await session!.logout();
      session = null;
      return true;
    },
  };

  // The screen the address asks for. Links carry their token in the
  // fragment (never sent to the server).
  const route = () => {
    switch (location.pathname) {
      case "/setup":
        showSetup(app, {});
        break;
      case "/invitation":
        void showInvitation(app, {});
        break;
      case "/reset":
        showReset(app, {});
        break;
      case "/verify":
        void showVerify(app);
        break;
      case "/email-change":
        showEmailChange(app);
        break;
      default:
        if (!session) showLogin(app, login);
    }
  };
  // A link pasted into the same page changes only the fragment.
  window.addEventListener("hashchange", () => {
    if (location.pathname !== "/") route();
  });
  route();
  window.kluisReadyMs = performance.now();
  window.kluisReady = true;
}

start().catch((e) => {
  card(root, el("p", { class: "error", role: "alert", text: t("load_failed") }));
  window.kluisError = String(e);
});
