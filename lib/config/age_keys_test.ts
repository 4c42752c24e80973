import assert from "node:assert/strict";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { join } from "node:path";
import { UsageError } from "../util/errors.ts";
import { loadAge, parseIdentities, parseRecipients } from "./age_keys.ts";
import { parseConfig, redactedConfig } from "./config.ts";
import { loadYaml } from "./yaml_source.ts";

await loadYaml();
await loadAge(); // loadConfig does this for a file that mentions age; parseConfig expects it done

const IDENTITY = await generateIdentity();
const RECIPIENT = await identityToRecipient(IDENTITY);

function replicaWith(age: string): string {
  return `dbs:\n  - path: /data/app.db\n    replica:\n      url: s3://bucket/app\n      age:\n${age}`;
}

function errorOf(text: string, env: Record<string, string> = {}): UsageError {
  try {
    parseConfig(text, { path: "/etc/walship.yml", env });
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${err}`);
    return err;
  }
  assert.fail(`no error for:\n${text}`);
}

Deno.test("age: Litestream v0.3's inline keys, key files and a passphrase reach the replica spec", async () => {
  const dir = await Deno.makeTempDir({ prefix: "walship-agecfg-" });
  const identityFile = join(dir, "key.txt");
  await Deno.writeTextFile(identityFile, `# created: today\n# public key: ${RECIPIENT}\n${IDENTITY}\n`);
  const recipientsFile = join(dir, "recipients.txt");
  await Deno.writeTextFile(recipientsFile, `\n# ops\n${RECIPIENT}\n`);

  const inline = parseConfig(
    replicaWith(`        identities: [${IDENTITY}]\n        recipients:\n          - ${RECIPIENT}\n`),
    { path: "/etc/walship.yml", env: {} },
  );
  assert.deepEqual(inline.dbs[0]!.replicas[0]!.spec.age, { recipients: [RECIPIENT], identities: [IDENTITY] });

  const files = parseConfig(
    replicaWith(`        identity-file: ${identityFile}\n        recipients-file: ${recipientsFile}\n`),
    { path: "/etc/walship.yml", env: {} },
  );
  assert.deepEqual(files.dbs[0]!.replicas[0]!.spec.age, { recipients: [RECIPIENT], identities: [IDENTITY] });

  const text = replicaWith("        passphrase: ${WALSHIP_PASSPHRASE}\n");
  const config = parseConfig(text, { path: "/etc/walship.yml", env: { WALSHIP_PASSPHRASE: "s3cret words" } });
  assert.deepEqual(config.dbs[0]!.replicas[0]!.spec.age, {
    recipients: [],
    identities: [],
    passphrase: "s3cret words",
  });
  const dump = JSON.stringify(redactedConfig(inline)) + JSON.stringify(redactedConfig(config));
  assert.ok(!dump.includes(IDENTITY) && !dump.includes("s3cret words"), dump);
  assert.ok(dump.includes(RECIPIENT), "public keys are not secrets");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("age: bad settings are one line naming the config line, never quoting a key", () => {
  const cases: [string, number, RegExp, Record<string, string>?][] = [
    ["        passphrase: ${WALSHIP_PASSPHRASE}\n", 5, /dbs\[0\]\.replica\.age has no keys/],
    [`        passphrase: pw\n        recipients: [${RECIPIENT}]\n`, 5, /has both a passphrase and keys/],
    [`        identities: [${IDENTITY.slice(0, -3)}xyz]\n`, 6, /age\.identities\[0\] is not an age identity/],
    ["        recipients: [ssh-ed25519 AAAAC3Nza]\n", 6, /age\.recipients\[0\] is not an age recipient/],
    [
      "        identity-file: /nonexistent/key.txt\n",
      6,
      /age identity file "\/nonexistent\/key.txt": not found/,
    ],
    [
      "        recipient: x\n",
      6,
      /unknown key "recipient" in dbs\[0\]\.replica\.age.*did you mean|unknown key/,
    ],
  ];
  for (const [age, line, pattern, env] of cases) {
    const err = errorOf(replicaWith(age), env);
    assert.match(err.message, new RegExp(`^config line ${line}: `), err.message);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(IDENTITY.slice(20)) && !(err.hint ?? "").includes(IDENTITY.slice(20)));
  }
  assert.match(
    errorOf(replicaWith("        passphrase: ${WALSHIP_PASSPHRASE}\n")).hint!,
    /unset \$\{VARIABLE\}/,
  );
  const top = errorOf(`age:\n  recipients: [${RECIPIENT}]\ndbs: []\n`);
  assert.match(top.message, /key "age" at the top level is not supported/);
  assert.match(top.hint!, /on each replica/);
});

Deno.test("parseIdentities() and parseRecipients() read age-keygen files and name the bad line", () => {
  assert.deepEqual(parseIdentities(`# comment\n\n${IDENTITY}\r\n`, "f"), [IDENTITY]);
  assert.deepEqual(parseRecipients(`${RECIPIENT}\n# x\n${RECIPIENT}\n`, "f"), [RECIPIENT, RECIPIENT]);
  assert.throws(
    () => parseIdentities(`${IDENTITY}\n${RECIPIENT}\n`, "key.txt"),
    /key\.txt line 2 is not an age identity/,
  );
  assert.throws(() => parseIdentities("# only comments\n", "key.txt"), /key\.txt holds no age identity/);
  assert.throws(() => parseRecipients(IDENTITY, "r.txt"), (err: Error) => {
    assert.match(err.message, /r\.txt line 1 is not an age recipient/);
    return !err.message.includes(IDENTITY);
  });
});
