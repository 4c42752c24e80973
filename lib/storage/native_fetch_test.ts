import assert from "node:assert/strict";
import { nativeFetchTrustsTheSameCAs } from "./native_fetch.ts";

Deno.test("downloads leave fetch for the SDK where NODE_EXTRA_CA_CERTS may hold a private CA", () => {
  const before = Deno.env.get("NODE_EXTRA_CA_CERTS");
  try {
    Deno.env.delete("NODE_EXTRA_CA_CERTS");
    assert.equal(nativeFetchTrustsTheSameCAs(), true);
    Deno.env.set("NODE_EXTRA_CA_CERTS", "/etc/ssl/private-ca.pem");
    assert.equal(nativeFetchTrustsTheSameCAs(), false);
  } finally {
    if (before === undefined) Deno.env.delete("NODE_EXTRA_CA_CERTS");
    else Deno.env.set("NODE_EXTRA_CA_CERTS", before);
  }
});
