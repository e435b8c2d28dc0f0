// Verify a webhook from the retail platform (Node.js 18+, no dependencies).
//
// Each delivery carries the header
//   Retail-Signature: t=1767225600,v1=c9c43053c587d9a132baf3e87a7f5cd6b5e5e5acf4ecb038f8c897644f666304
// v1 is the hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint's signing secret (the
// string shown once when the endpoint was created or its secret rotated, UTF-8 encoded). While a
// secret is being rotated the header carries two v1= values: accept if any of them matches.
// Refuse a t more than 5 minutes away from your clock, and de-duplicate on Retail-Event-Id.
//
// Sign over the raw bytes as received: do not parse and re-serialise the JSON first.
// Run it as a tiny receiver: WEBHOOK_SECRET=whsec_... node verify_webhook.js 8080
"use strict";

const crypto = require("crypto");

const TOLERANCE_SECONDS = 300;

class SignatureError extends Error {}

function parseSignatureHeader(header) {
  let timestamp = null;
  const signatures = [];
  for (const item of String(header || "").split(",")) {
    const i = item.indexOf("=");
    if (i < 0) continue;
    const key = item.slice(0, i).trim();
    const value = item.slice(i + 1).trim();
    if (key === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && value) signatures.push(value.toLowerCase());
  }
  if (timestamp === null || signatures.length === 0) {
    throw new SignatureError("malformed Retail-Signature header");
  }
  return { timestamp, signatures };
}

// payload: the raw request body (a Buffer or a string exactly as received).
// Returns the signed timestamp; throws SignatureError.
function verifySignature(payload, header, secret, { tolerance = TOLERANCE_SECONDS, now } = {}) {
  const { timestamp, signatures } = parseSignatureHeader(header);
  const nowSeconds = now === undefined ? Date.now() / 1000 : now;
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new SignatureError("timestamp outside the tolerance");
  }
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
  const expected = crypto
    .createHmac("sha256", Buffer.from(secret, "utf8"))
    .update(Buffer.concat([Buffer.from(`${timestamp}.`, "utf8"), body]))
    .digest();
  const matches = signatures.some((sig) => {
    if (!/^[0-9a-f]{64}$/.test(sig)) return false;
    return crypto.timingSafeEqual(expected, Buffer.from(sig, "hex"));
  });
  if (!matches) throw new SignatureError("no signature matches");
  return timestamp;
}

module.exports = { verifySignature, parseSignatureHeader, SignatureError, TOLERANCE_SECONDS };

if (require.main === module) {
  // An example receiver.
  const http = require("http");
  const secret = process.env.WEBHOOK_SECRET;
  const port = Number(process.argv[2] || 8080);
  const seen = new Set(); // keep this in your database, not in memory
  http
    .createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        try {
          verifySignature(body, req.headers["retail-signature"], secret);
        } catch (err) {
          res.writeHead(400).end(String(err.message));
          return;
        }
        const event = JSON.parse(body.toString("utf8"));
        if (!seen.has(event.id)) {
          seen.add(event.id);
          console.log(event.type, event.data); // hand it to a queue; answer quickly
        }
        res.writeHead(204).end();
      });
    })
    .listen(port);
}
