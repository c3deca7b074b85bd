// The page that embeds the Kluis SDK (WebAssembly). This is the seed of the
// web client: it loads the module and exposes the SDK's steps to the page.
// Everything secret stays inside the module; the session is an HttpOnly
// cookie this script cannot read.
import init, { KluisClient } from "./pkg/kluis_sdk.js";
import { openDevice } from "./device.js";
import { t, missingKeys } from "./i18n.js";
import { showSetup } from "./setup.js";
import { showInvitation } from "./invitation.js";

const status = document.getElementById("status");
status.textContent = t("loading");

async function start() {
  await init();
  // The sealed device state (pins, verified peers, membership records),
  // kept in IndexedDB across reloads: loaded whole, persisted by the SDK
  // after every step that changes it.
  const device = await openDevice();
  const client = new KluisClient(window.location.origin, device);
  let session = null;
  // Steps a test (or, later, the interface) calls.
  window.kluis = {
    checkPassword: (password) => KluisClient.checkPassword(password),
    lookupInvitation: (link) => client.lookupInvitation(link),
    async signUp(link, name, password) {
      const done = await client.signUp(link, name, password);
      session = done.takeSession();
      return { accountId: session.accountId, recoveryKey: done.recoveryKey };
    },
    async login(email, password) {
      try {
        session = await client.login(email, password);
      } catch (e) {
        // The name says what happened (`local_store_missing`, …).
        throw new Error(`${e.name}: ${e.message}`);
      }
      return { accountId: session.accountId };
    },
    // The user's explicit decision after local_store_missing/unreadable.
    startFresh: () => (client.startFresh(), true),
    async timeLogins(email, password, times) {
      const ms = [];
      for (let i = 0; i < times; i++) {
        const t0 = performance.now();
        const s = await client.login(email, password);
        ms.push(performance.now() - t0);
        await s.logout();
      }
      return ms;
    },
    relationships: () => session.relationships(),
    dialogue: (rid) => session.dialogue(rid),
    send: (rid, text) => session.sendMessage(rid, text),
    deleteItem: (rid, item) => session.deleteItem(rid, item),
    safetyNumber: (peer) => session.safetyNumber(peer),
    verify: (peer, digits) => session.verifySafetyNumber(peer, digits),
    acceptKeyChange: (peer, digits) => session.acceptKeyChange(peer, digits),
    deferKeyChange: (peer) => session.deferKeyChange(peer),
    keyChanges: () => session.keyChanges(),
    membership: (rid) => session.membership(rid),
    reauthenticate: (password) => session.reauthenticate(password),
    // What the page keeps outside the module, for the test to inspect.
    deviceRecords: () => device.inspect(),
    forgetDeviceState: () => device.forgetStates(),
    missingKeys: () => missingKeys(),
    webStorage: () => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
    }),
    async logout() {
      await session.logout();
      session = null;
      return true;
    },
  };
  // The screens: the pages links open. (More come with the web client.)
  const route = () => {
    const root = document.getElementById("app");
    if (location.pathname === "/setup") {
      showSetup(root, client, {});
    } else if (location.pathname === "/invitation") {
      showInvitation(root, client, {});
    } else {
      status.textContent = t("ready");
    }
  };
  // A link pasted into the same page changes only the fragment.
  window.addEventListener("hashchange", route);
  route();
  window.kluisReady = true;
}

start().catch((e) => {
  status.textContent = t("load_failed");
  window.kluisError = String(e);
});
