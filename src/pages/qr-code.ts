// The enrolment QR code's modules, from the `uqr` package (zero dependencies, typed). Pages draw them as inline SVG:
// the Content-Security-Policy would refuse a data: image.
import { encode } from "uqr";

/** The QR code of `text` as rows of modules (true = dark, no quiet zone). */
export function qrModules(text: string): boolean[][] {
  return encode(text, { ecc: "M", border: 0 }).data;
}
