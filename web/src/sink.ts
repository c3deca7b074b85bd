// Where a download goes. Where the browser can (the File System Access
// API: Chromium and Edge), straight into a file the user picks, written as
// the SDK decrypts it, so memory stays flat whatever the size; the file
// only appears when every check passed — a failed download is aborted and
// the browser discards what was written (it writes to a temporary file
// until close). Elsewhere the chunks are kept in memory and saved at the
// end, as one download.
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
  const out = await handle.createWritable();
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
