import assert from "node:assert/strict";
import { nativeFetchTrustsTheSameCAs } from "./native_fetch.ts";

Deno.test("TLS downloads leave fetch for the SDK where NODE_EXTRA_CA_CERTS may hold a private CA", () => {
  const before = Deno.env.get("NODE_EXTRA_CA_CERTS");
  try {
    Deno.env.delete("NODE_EXTRA_CA_CERTS");
    assert.equal(nativeFetchTrustsTheSameCAs(undefined), true);
    assert.equal(nativeFetchTrustsTheSameCAs("https://minio.internal:9000"), true);
    Deno.env.set("NODE_EXTRA_CA_CERTS", "/etc/ssl/private-ca.pem");
    assert.equal(nativeFetchTrustsTheSameCAs(undefined), false, "AWS itself: https");
    assert.equal(nativeFetchTrustsTheSameCAs("https://minio.internal:9000"), false);
    assert.equal(nativeFetchTrustsTheSameCAs("http://127.0.0.1:9000"), true, "no TLS, no CA to trust");
  } finally {
    if (before === undefined) Deno.env.delete("NODE_EXTRA_CA_CERTS");
    else Deno.env.set("NODE_EXTRA_CA_CERTS", before);
  }
});
