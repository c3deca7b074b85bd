// Where a download goes. Where the browser can (the File System Access
// API: Chromium and Edge), straight into a file the user picks, written as
// the SDK decrypts it, so the page does not hold the file whatever its
// size. What is written goes to a temporary file the browser swaps in only
// at close(), which happens only when every check passed: a failed
// download is aborted, and the picked file (which the browser may already
// have created, empty) is removed where the browser can. Writes queue
// behind each other without back-pressure: the disk is normally faster
// than the decryption. Elsewhere the chunks are kept in memory and saved
// at the end, as one download.
import { save } from "./dom.js";

export interface Sink {
  // Takes one decrypted chunk (called synchronously by the SDK).
  write(chunk: Uint8Array): void;
  // Every check passed: keep the file.
  finish(): Promise<void>;
  // Something failed: keep nothing.
  abort(): Promise<void>;
  // Whether the file is written as it comes (the picker's) or at the end.
  readonly streamed: boolean;
}

interface Writable {
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

interface SaveHandle {
  createWritable(): Promise<Writable>;
  // Chromium: removes the file (not in every browser).
  remove?: () => Promise<void>;
}

type SavePicker = (options: { suggestedName: string }) => Promise<SaveHandle>;

// Opens where `name` goes; null when the user closed the picker. Call it
// first thing in a click handler: the picker needs the click.
export async function openSink(name: string, type: string): Promise<Sink | null> {
  const picker = (window as unknown as { showSaveFilePicker?: SavePicker }).showSaveFilePicker;
  if (!picker) return memorySink(name, type);
  let handle: SaveHandle;
  try {
    handle = await picker({ suggestedName: name });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") return null;
    // Refused for another reason (a policy, an odd name): the fallback.
    return memorySink(name, type);
  }
  let out: Writable;
  try {
    out = await handle.createWritable();
  } catch {
    // Not writable after all (permissions, a locked file): the fallback.
    return memorySink(name, type);
  }
  // Writes in order; a failed write fails finish().
  let queue: Promise<void> = Promise.resolve();
  return {
    streamed: true,
    write(chunk) {
      queue = queue.then(() => out.write(chunk));
    },
    async finish() {
      await queue;
      await out.close();
    },
    async abort() {
      await queue.catch(() => undefined);
      await out.abort().catch(() => undefined);
      await handle.remove?.().catch(() => undefined);
    },
  };
}

function memorySink(name: string, type: string): Sink {
  let parts: Uint8Array[] = [];
  return {
    streamed: false,
    write(chunk) {
      parts.push(chunk);
    },
    async finish() {
      save(parts as BlobPart[], name, type);
      parts = [];
    },
    async abort() {
      parts = [];
    },
  };
}
