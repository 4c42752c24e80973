import assert from "node:assert/strict";
import { UsageError } from "../util/errors.ts";
import { REDACTED, redactedConfig, scrubError, secretsIn } from "./redact.ts";

Deno.test("secretsIn() finds credential values as written, quoted or not", () => {
  const text = `access-key-id: AKIAEXAMPLE
secret-access-key: "quoted/secret+1" # comment
  - account-key: 'singleQuoted=='
    sas-token: sv=1&sig=abc
region: us-east-1
password: abc`;
  assert.deepEqual(secretsIn(text), ["AKIAEXAMPLE", "quoted/secret+1", "singleQuoted==", "sv=1&sig=abc"]);
});

Deno.test("scrubError() replaces secrets in a UsageError's message and hint", () => {
  const err = scrubError(new UsageError("bad value AKIAEXAMPLE here", { hint: "not AKIAEXAMPLE" }), [
    "AKIAEXAMPLE",
  ]);
  assert.ok(err instanceof UsageError);
  assert.equal(err.message, `bad value ${REDACTED} here`);
  assert.equal(err.hint, `not ${REDACTED}`);
  const other = new Error("AKIAEXAMPLE");
  assert.equal(scrubError(other, ["AKIAEXAMPLE"]), other);
});

Deno.test("redactedConfig() redacts credential fields and SAS signatures in URLs", () => {
  const out = redactedConfig({
    spec: { accessKeyId: "id", secretAccessKey: "s", accountKey: "k", sasToken: "t", bucket: "b" },
    endpoint: "https://h/?sig=abc&sv=1",
    list: [{ secretAccessKey: "s2" }],
  });
  assert.deepEqual(out, {
    spec: {
      accessKeyId: REDACTED,
      secretAccessKey: REDACTED,
      accountKey: REDACTED,
      sasToken: REDACTED,
      bucket: "b",
    },
    endpoint: `https://h/?sig=${REDACTED}&sv=1`,
    list: [{ secretAccessKey: REDACTED }],
  });
});
