import assert from "node:assert/strict";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { join } from "node:path";
import type { ReplicaSpec } from "../config/replica_url.ts";
import { withAgeFlags } from "./age_flags.ts";

const IDENTITY = await generateIdentity();
const RECIPIENT = await identityToRecipient(IDENTITY);

Deno.test("withAgeFlags(): flags, then env, for a URL; config keys plus flags (never env) for a configured replica", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-ageflags-" });
  const keyFile = join(dir, "key.txt");
  await Deno.writeTextFile(keyFile, `# k\n${IDENTITY}\n`);
  const passFile = join(dir, "pass.txt");
  await Deno.writeTextFile(passFile, "from file\nsecond line ignored\n");
  const env: Record<string, string> = { WALSHIP_PASSPHRASE: "from env", WALSHIP_AGE_IDENTITY_FILE: keyFile };
  const getEnv = (name: string) => env[name];
  const url: ReplicaSpec = { type: "file", path: "/r" };

  assert.deepEqual(await withAgeFlags(url, {}, "url", () => undefined), url);
  assert.deepEqual((await withAgeFlags(url, {}, "url", getEnv)).age, {
    recipients: [],
    identities: [IDENTITY],
    passphrase: "from env",
  });
  assert.equal(
    (await withAgeFlags(url, { "age-passphrase-file": passFile }, "url", getEnv)).age?.passphrase,
    "from file",
  );

  const configured: ReplicaSpec = {
    type: "file",
    path: "/r",
    age: { recipients: [RECIPIENT], identities: [] },
  };
  assert.deepEqual(await withAgeFlags(configured, {}, "config", getEnv), configured);
  assert.deepEqual((await withAgeFlags({ type: "file", path: "/p" }, {}, "config", getEnv)).age, undefined);
  assert.deepEqual((await withAgeFlags(configured, { "age-identity-file": keyFile }, "config", getEnv)).age, {
    recipients: [RECIPIENT],
    identities: [IDENTITY],
  });
  await assert.rejects(
    () => withAgeFlags(url, { "age-identity-file": join(dir, "missing") }, "url", getEnv),
    /age identity file ".*missing": not found/,
  );
  await Deno.remove(dir, { recursive: true });
});
