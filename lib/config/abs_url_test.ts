import assert from "node:assert/strict";
import { UsageError } from "../util/errors.ts";
import { absSpecFromOptions, parseAbsUrl } from "./abs_url.ts";
import { parseReplicaUrl } from "./replica_url.ts";

Deno.test("parseAbsUrl() reads account, container and path", () => {
  assert.deepEqual(parseAbsUrl("abs://acct@backups/apps/db"), {
    type: "abs",
    accountName: "acct",
    container: "backups",
    path: "apps/db",
    maxConnections: 5,
  });
  assert.deepEqual(parseAbsUrl("abs://backups"), {
    type: "abs",
    container: "backups",
    path: "",
    maxConnections: 5,
  });
  assert.equal(parseAbsUrl("abs://acct@backups/").path, "");
  assert.equal(parseAbsUrl("abs://acct@backups//a//b/./c/").path, "a/b/c");
  assert.equal(parseAbsUrl("abs://acct@backups/my%20db").path, "my db");
  assert.equal(parseAbsUrl("abs://backups/../db").path, "db");
  assert.equal(parseAbsUrl("ABS://acct@backups/db").container, "backups");
  assert.equal(parseAbsUrl("abs://acct@$root/db").container, "$root");
});

Deno.test("parseAbsUrl() takes endpoint and max-connections from the query", () => {
  const spec = parseAbsUrl(
    "abs://devstoreaccount1@ctr/db?endpoint=http://127.0.0.1:10000/devstoreaccount1/&max-connections=16",
  );
  assert.equal(spec.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  assert.equal(spec.maxConnections, 16);
  assert.equal(parseAbsUrl("abs://ctr?maxConnections=2").maxConnections, 2);
  // Without a scheme: http for loopback and private hosts, https for the rest.
  assert.equal(
    parseAbsUrl("abs://ctr?endpoint=127.0.0.1:10000/acct").endpoint,
    "http://127.0.0.1:10000/acct",
  );
  assert.equal(parseAbsUrl("abs://ctr?endpoint=azurite.local:10000").endpoint, "http://azurite.local:10000");
  assert.equal(
    parseAbsUrl("abs://ctr?endpoint=acct.blob.core.chinacloudapi.cn").endpoint,
    "https://acct.blob.core.chinacloudapi.cn",
  );
  assert.equal(parseAbsUrl("abs://ctr?endpoint=https%3A%2F%2Fx.example%2Fa").endpoint, "https://x.example/a");
});

Deno.test("parseReplicaUrl() routes abs:// to the Azure parser", () => {
  assert.equal(parseReplicaUrl("abs://acct@ctr/db").type, "abs");
});

/** Asserts a UsageError whose one-line message matches and that carries a hint. */
function assertUsage(fn: () => unknown, pattern: RegExp, ...notShown: string[]) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${err}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"));
    assert.ok(err.hint, "has a hint");
    for (const secret of notShown) {
      assert.ok(!`${err.message}${err.hint}`.includes(secret), "secret not shown");
    }
    return true;
  });
}

Deno.test("parseAbsUrl() rejects bad URLs with a hint, never echoing secrets", () => {
  assertUsage(() => parseAbsUrl("abs://"), /names no container/);
  assertUsage(() => parseAbsUrl("abs:///db"), /names no container/);
  assertUsage(() => parseAbsUrl("abs://acct@/db"), /names no container/);
  assertUsage(() => parseAbsUrl("abs://Backups/db"), /invalid container name "Backups"/);
  assertUsage(() => parseAbsUrl("abs://ab/db"), /invalid container name/);
  assertUsage(() => parseAbsUrl("abs://a--b/db"), /invalid container name/);
  assertUsage(() => parseAbsUrl("abs://My_Acct@ctr/db"), /invalid account name/);
  assertUsage(() => parseAbsUrl("abs://acct:s3cr3tKey@ctr/db"), /must not hold the account key/, "s3cr3tKey");
  assertUsage(
    () => parseAbsUrl("abs://ctr/db?sas=sv%3Dx%26sig%3Dhush"),
    /unknown query parameter "sas"/,
    "hush",
  );
  assertUsage(() => parseAbsUrl("abs://ctr/db?sig=hush"), /unknown query parameter "sig"/, "hush");
  assertUsage(() => parseAbsUrl("abs://ctr/%zz"), /%-escape/);
  assertUsage(() => parseAbsUrl("s3://ctr/db"), /not an abs:\/\/ URL/);
  for (const bad of ["0", "-1", "65", "2.5", "many", " "]) {
    assertUsage(() => parseAbsUrl(`abs://ctr?max-connections=${encodeURIComponent(bad)}`), /max-connections/);
  }
  assertUsage(() => parseAbsUrl("abs://ctr?endpoint=ftp://x"), /scheme "ftp:"/);
  assertUsage(() => parseAbsUrl("abs://ctr?endpoint=http://[zz"), /not a URL/);
  assertUsage(
    () => parseAbsUrl(`abs://ctr?endpoint=${encodeURIComponent("https://a.example/?sv=1&sig=hush")}`),
    /endpoint with a query/,
    "hush",
  );
});

Deno.test("absSpecFromOptions() reads the YAML replica keys", () => {
  const where = "replica at line 4";
  assert.deepEqual(
    absSpecFromOptions({
      type: "abs",
      "account-name": "acct",
      "account-key": "a2V5",
      "sas-token": "?sv=2024&sig=x",
      bucket: "ctr",
      path: "/db/",
      endpoint: "http://127.0.0.1:10000/acct",
      "max-connections": 8,
      "sync-interval": "1s",
    }, where),
    {
      type: "abs",
      accountName: "acct",
      accountKey: "a2V5",
      sasToken: "sv=2024&sig=x",
      container: "ctr",
      path: "db",
      endpoint: "http://127.0.0.1:10000/acct",
      maxConnections: 8,
    },
  );
  // An unset $VAR expands to "": the key counts as absent.
  const blank = absSpecFromOptions(
    { bucket: "ctr", "account-key": "", "sas-token": "", endpoint: "" },
    where,
  );
  assert.deepEqual(blank, { type: "abs", container: "ctr", path: "", maxConnections: 5 });
});

Deno.test("absSpecFromOptions() with url: explicit keys win, bucket and path may not be mixed in", () => {
  const where = "replica at line 9";
  const spec = absSpecFromOptions({
    url: "abs://urlacct@ctr/db?endpoint=http://127.0.0.1:1/urlacct&max-connections=3",
    "account-name": "yamlacct",
    endpoint: "http://127.0.0.1:2/yamlacct",
    "account-key": "a2V5",
  }, where);
  assert.equal(spec.accountName, "yamlacct");
  assert.equal(spec.endpoint, "http://127.0.0.1:2/yamlacct");
  assert.equal(spec.maxConnections, 3);
  assert.equal(spec.container, "ctr");
  assert.equal(spec.path, "db");
  assert.equal(spec.accountKey, "a2V5");
  assertUsage(
    () => absSpecFromOptions({ url: "abs://ctr/db", bucket: "other" }, where),
    /both url and bucket/,
  );
  assertUsage(() => absSpecFromOptions({ url: "abs://ctr/db", path: "x" }, where), /both url and path/);
});

Deno.test("absSpecFromOptions() rejects missing or mistyped values, naming where", () => {
  const where = "replica at line 12";
  assertUsage(() => absSpecFromOptions({ path: "db" }, where), /replica at line 12 names no container/);
  assertUsage(() => absSpecFromOptions({ bucket: 42 }, where), /number for bucket, expected a string/);
  assertUsage(
    () => absSpecFromOptions({ bucket: "ctr", "account-key": true }, where),
    /boolean for account-key/,
  );
  assertUsage(
    () => absSpecFromOptions({ bucket: "ctr", "max-connections": 0 }, where),
    /max-connections "0"/,
  );
  assertUsage(() => absSpecFromOptions({ bucket: "ctr", "max-connections": "x" }, where), /max-connections/);
  assertUsage(() => absSpecFromOptions({ bucket: "ctr", endpoint: "gopher://x" }, where), /scheme "gopher:"/);
});
