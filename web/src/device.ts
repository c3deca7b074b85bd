// The device state of the web client in IndexedDB: what the SDK sealed
// (pins, verified peers, the last verified membership records — ciphertext
// under a key derived from the identity, PROTOCOL.md §4.3) and which
// accounts ever had a state here, so that a state that went missing is
// reported instead of silently replaced. Nothing goes to localStorage.
//
// Object stores: "states" (account id → sealed bytes), "kept" (account id
// → true), "set-aside" (auto key → { user, sealed, at }: states the user
// chose to leave behind, kept rather than destroyed).

const NAME = "kluis-device";

interface Write {
  op: "save" | "remove" | "setAside";
  user: string;
  sealed?: Uint8Array;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("aborted"));
  });
}

function openDb(): Promise<IDBDatabase> {
  const r = indexedDB.open(NAME, 1);
  r.onupgradeneeded = () => {
    const db = r.result;
    db.createObjectStore("states");
    db.createObjectStore("kept");
    db.createObjectStore("set-aside", { autoIncrement: true });
  };
  return request(r);
}

// Loads everything for the SDK's KluisClient: { states, kept, persist }.
export async function openDevice() {
  const db = await openDb();
  const tx = db.transaction(["states", "kept"], "readonly");
  const [users, sealed, kept] = await Promise.all([
    request(tx.objectStore("states").getAllKeys()),
    request(tx.objectStore("states").getAll()),
    request(tx.objectStore("kept").getAllKeys()),
  ]);
  const states = users.map((user, i) => ({ user: String(user), sealed: new Uint8Array(sealed[i] as ArrayBuffer) }));

  // Applies the SDK's writes in order, in one transaction: all or nothing.
  async function persist(writes: Write[]): Promise<void> {
    const tx = db.transaction(["states", "kept", "set-aside"], "readwrite");
    const st = tx.objectStore("states");
    const kp = tx.objectStore("kept");
    const aside = tx.objectStore("set-aside");
    for (const w of writes) {
      if (w.op === "save") {
        st.put(w.sealed, w.user);
        kp.put(true, w.user);
      } else if (w.op === "remove") {
        st.delete(w.user);
        kp.delete(w.user);
      } else if (w.op === "setAside") {
        const old = await request(st.get(w.user));
        if (old !== undefined) aside.add({ user: w.user, sealed: old, at: Date.now() });
        st.delete(w.user);
      }
    }
    await done(tx);
  }

  return {
    states,
    kept,
    persist,
    // For tests: what is stored, without the bytes' meaning.
    async inspect() {
      const tx = db.transaction(["states", "kept", "set-aside"], "readonly");
      const [u, s, k, a] = await Promise.all([
        request(tx.objectStore("states").getAllKeys()),
        request(tx.objectStore("states").getAll()),
        request(tx.objectStore("kept").getAllKeys()),
        request(tx.objectStore("set-aside").getAll()),
      ]);
      const hex = (b: ArrayBuffer) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
      return {
        states: u.map((user, i) => ({ user: String(user), sealedHex: hex(s[i] as ArrayBuffer) })),
        kept: k,
        setAside: a.map((x) => (x as { user: string }).user),
      };
    },
    // For tests: the states lost (as a browser that dropped them), the
    // record that they existed kept.
    async forgetStates() {
      const tx = db.transaction(["states"], "readwrite");
      tx.objectStore("states").clear();
      await done(tx);
      return true;
    },
  };
}
