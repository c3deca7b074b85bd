// A QR code the SDK encoded (client-sdk/src/qr.rs), drawn as one SVG path:
// no picture from the server, no inline style.
import { KluisClient } from "../pkg/kluis_sdk.js";

const SVG = "http://www.w3.org/2000/svg";
const QUIET = 4;

export function qrSvg(text: string, label: string): SVGSVGElement {
  const { size, dark } = KluisClient.qrCode(text) as { size: number; dark: Uint8Array };
  const side = size + 2 * QUIET;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${side} ${side}`);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const back = document.createElementNS(SVG, "rect");
  back.setAttribute("width", String(side));
  back.setAttribute("height", String(side));
  back.setAttribute("class", "qr-light");
  const parts: string[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (dark[y * size + x]) parts.push(`M${x + QUIET} ${y + QUIET}h1v1h-1z`);
    }
  }
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", parts.join(""));
  path.setAttribute("class", "qr-dark");
  svg.append(back, path);
  return svg;
}
