import { correction, generate } from "lean-qr";
import { toSvgSource } from "lean-qr/extras/svg";

/**
 * An entry's code as a QR image for a phone's screen or a print: SVG, black
 * modules on white (a transparent image vanishes on a dark screen), with the
 * four-module quiet zone the QR standard asks for; 8 px a module unless scaled.
 */
export const qrSvg = (code: string) =>
  toSvgSource(generate(code, { minCorrectionLevel: correction.M }), {
    on: "#000",
    off: "#fff",
    pad: 4,
    scale: 8,
  });
