// The password strength estimate (zxcvbn), a WebAssembly module of its own
// (pkg/kluis_strength_bg.wasm, under its SRI hash like the SDK's): loaded
// the first time a screen asks for a new password, then handed to the SDK,
// which judges every password with it. Signing in never downloads it.
import initStrength, { estimate } from "../pkg/kluis_strength.js";
import { KluisClient } from "../pkg/kluis_sdk.js";
import { STRENGTH_INTEGRITY } from "./integrity.js";

let loading: Promise<void> | null = null;

// Starts loading the estimate (once); resolves when the SDK has it. A
// failed load (the network, a refused hash) is tried again next time.
export function strengthReady(): Promise<void> {
  loading ??= (async () => {
    await initStrength({
      module_or_path: STRENGTH_INTEGRITY
        ? new Request("/pkg/kluis_strength_bg.wasm", { integrity: STRENGTH_INTEGRITY })
        : undefined,
    });
    KluisClient.useStrengthEstimate((password: string, context: string[]) => {
      const s = estimate(password, context);
      const answer = { score: s.score, feedback: s.feedback };
      s.free();
      return answer;
    });
  })().catch((e: unknown) => {
    loading = null;
    // Said as the SDK would say it (forms.ts explains it).
    const err = new Error(e instanceof Error ? e.message : String(e));
    err.name = "strength_unavailable";
    throw err;
  });
  return loading;
}
