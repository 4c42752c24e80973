import assert from "node:assert/strict";
import { UsageError } from "../util/errors.ts";
import { parseReplicaUrl } from "./replica_url.ts";
import { ensureEndpointScheme, parseS3Url, redactUrl, type S3Spec, s3SpecFromOptions } from "./s3_url.ts";

const DEFAULTS = {
  type: "s3",
  path: "",
  forcePathStyle: false,
  skipVerify: false,
  signPayload: true,
} as const;

function spec(fields: Partial<S3Spec> & { bucket: string }): S3Spec {
  return { ...DEFAULTS, requireContentMd5: true, ...fields };
}

Deno.test("parseS3Url: plain bucket and path go to AWS with no region (looked up later)", () => {
  assert.deepEqual(parseS3Url("s3://my-bucket/db/app"), spec({ bucket: "my-bucket", path: "db/app" }));
  assert.deepEqual(parseS3Url("s3://my-bucket"), spec({ bucket: "my-bucket" }));
  assert.deepEqual(parseS3Url("S3://my-bucket//db/./x/"), spec({ bucket: "my-bucket", path: "db/x" }));
  assert.deepEqual(parseReplicaUrl("s3://b/p"), spec({ bucket: "b", path: "p" }));
});

Deno.test("parseS3Url: host forms of AWS and S3-compatible providers", () => {
  const cases: [string, Partial<S3Spec>][] = [
    ["s3://bkt.s3.amazonaws.com/db", { bucket: "bkt" }],
    ["s3://bkt.s3.eu-west-1.amazonaws.com/db", { bucket: "bkt", region: "eu-west-1" }],
    ["s3://bkt.s3-us-west-2.amazonaws.com/db", { bucket: "bkt", region: "us-west-2" }],
    ["s3://my.dotted.bkt.s3.us-east-2.amazonaws.com/db", { bucket: "my.dotted.bkt", region: "us-east-2" }],
    ["s3://bkt.nyc3.digitaloceanspaces.com/db", {
      bucket: "bkt",
      region: "nyc3",
      endpoint: "https://nyc3.digitaloceanspaces.com",
      provider: "digitalocean",
    }],
    ["s3://bkt.s3.us-west-002.backblazeb2.com/db", {
      bucket: "bkt",
      region: "us-west-002",
      endpoint: "https://s3.us-west-002.backblazeb2.com",
      forcePathStyle: true,
      provider: "b2",
    }],
    ["s3://bkt.s3.filebase.com/db", {
      bucket: "bkt",
      region: "us-east-1",
      endpoint: "https://s3.filebase.com",
      forcePathStyle: true,
      provider: "filebase",
    }],
    ["s3://bkt.s3.fr-par.scw.cloud/db", {
      bucket: "bkt",
      region: "fr-par",
      endpoint: "https://s3.fr-par.scw.cloud",
      provider: "scaleway",
    }],
    ["s3://bkt.localhost:9000/db", {
      bucket: "bkt",
      region: "us-east-1",
      endpoint: "http://localhost:9000",
      forcePathStyle: true,
    }],
    ["s3://bkt.127.0.0.1:9000/db", {
      bucket: "bkt",
      region: "us-east-1",
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
    }],
    ["s3://bkt.minio.internal:443/db", {
      bucket: "bkt",
      region: "us-east-1",
      endpoint: "http://minio.internal:443",
      forcePathStyle: true,
    }],
    ["s3://bkt.localhost/db", {
      bucket: "bkt",
      region: "us-east-1",
      endpoint: "http://localhost",
      forcePathStyle: true,
    }],
  ];
  for (const [url, want] of cases) {
    assert.deepEqual(parseS3Url(url), spec({ path: "db", ...want } as S3Spec), url);
  }
});

Deno.test("parseS3Url: an access point ARN is the bucket, its region the region", () => {
  assert.deepEqual(
    parseS3Url("s3://arn:aws:s3:eu-central-1:123456789012:accesspoint/my-ap/db/app"),
    spec({
      bucket: "arn:aws:s3:eu-central-1:123456789012:accesspoint/my-ap",
      region: "eu-central-1",
      path: "db/app",
    }),
  );
});

Deno.test("parseS3Url: endpoint query adds a scheme by host, implies path style and us-east-1", () => {
  const cases: [string, string][] = [
    ["localhost:9000", "http://localhost:9000"],
    ["127.0.0.1:9000", "http://127.0.0.1:9000"],
    ["10.1.2.3", "http://10.1.2.3"],
    ["192.168.0.5:9000", "http://192.168.0.5:9000"],
    ["172.20.0.2:9000", "http://172.20.0.2:9000"],
    ["minio.local:9000", "http://minio.local:9000"],
    ["172.32.0.2:9000", "https://172.32.0.2:9000"],
    ["storage.example.com", "https://storage.example.com"],
    ["http://storage.example.com/", "http://storage.example.com"],
    ["https://127.0.0.1:9443", "https://127.0.0.1:9443"],
  ];
  for (const [given, want] of cases) {
    const got = parseS3Url(`s3://bkt/db?endpoint=${encodeURIComponent(given)}`);
    assert.equal(got.endpoint, want, given);
    assert.equal(got.forcePathStyle, true, given);
    assert.equal(got.region, "us-east-1", given);
  }
  const minio = parseS3Url("s3://bkt/db?endpoint=localhost:9000&forcePathStyle=false&region=eu-1");
  assert.equal(minio.forcePathStyle, false);
  assert.equal(minio.region, "eu-1");
});

Deno.test("parseS3Url: every option in camelCase and kebab-case, booleans in Go's spellings", () => {
  const camel = parseS3Url(
    "s3://bkt/db?endpoint=https://s3.example.com&region=r1&forcePathStyle=no&skipVerify=t&partSize=10MiB" +
      "&concurrency=7&storageClass=STANDARD_IA&signPayload=0&requireContentMD5=false",
  );
  const kebab = parseS3Url(
    "s3://bkt/db?endpoint=https://s3.example.com&region=r1&force-path-style=false&skip-verify=yes" +
      "&part-size=10485760&concurrency=7&storage-class=STANDARD_IA&sign-payload=f&require-content-md5=0",
  );
  const want = spec({
    bucket: "bkt",
    path: "db",
    region: "r1",
    endpoint: "https://s3.example.com",
    forcePathStyle: false,
    skipVerify: true,
    partSize: 10 * 1024 * 1024,
    concurrency: 7,
    storageClass: "STANDARD_IA",
    signPayload: false,
    requireContentMd5: false,
  });
  assert.deepEqual(camel, want);
  assert.deepEqual(kebab, want);
  for (const yes of ["true", "TRUE", "1", "t", "yes"]) {
    assert.equal(parseS3Url(`s3://b?skipVerify=${yes}`).skipVerify, true);
  }
  for (const no of ["false", "0", "f", "no", "No"]) {
    assert.equal(parseS3Url(`s3://b?endpoint=x.local&forcePathStyle=${no}`).forcePathStyle, false);
  }
});

Deno.test("parseS3Url: part sizes as go-humanize reads them, at least 5 MiB", () => {
  assert.equal(parseS3Url("s3://b?partSize=5MiB").partSize, 5_242_880);
  assert.equal(parseS3Url("s3://b?partSize=6MB").partSize, 6_000_000);
  assert.equal(parseS3Url("s3://b?partSize=1GiB").partSize, 1024 ** 3);
  assert.equal(parseS3Url("s3://b?partSize=5242880").partSize, 5_242_880);
  for (const bad of ["5MB", "1024", "abc", "-5MiB", "6XB", "6TB"]) {
    assert.throws(() => parseS3Url(`s3://b?partSize=${bad}`), /part-size/, bad);
  }
});

Deno.test("parseS3Url: provider defaults apply unless the user set the value", () => {
  const r2 = parseS3Url("s3://bkt/db?endpoint=https://acct.r2.cloudflarestorage.com");
  assert.equal(r2.concurrency, 2);
  assert.equal(r2.provider, "r2");
  assert.equal(parseS3Url("s3://bkt/db?endpoint=acct.r2.cloudflarestorage.com&concurrency=8").concurrency, 8);
  assert.equal(parseS3Url("s3://bkt/db?endpoint=fly.storage.tigris.dev").provider, "tigris");
  assert.equal(
    parseS3Url("s3://bkt.s3.us-west-002.backblazeb2.com/db?forcePathStyle=false").forcePathStyle,
    false,
  );
});

Deno.test("parseS3Url: bad URLs are one-line usage errors with a hint", () => {
  const cases: [string, RegExp][] = [
    ["s3://", /No bucket/],
    ["s3:///db", /No bucket/],
    ["s3://:9000/db", /No bucket/],
    ["s3://minio:9000/db", /No bucket.*BUCKET\.HOST:PORT/],
    ["s3://bkt/db?region=", /Empty region/],
    ["s3://bkt/db?endpoint=", /Empty endpoint/],
    ["s3://bkt/db?forcePathStyle=maybe", /Invalid force-path-style "maybe"/],
    ["s3://bkt/db?skip-verify=2", /Invalid skip-verify/],
    ["s3://bkt/db?concurrency=0", /Invalid concurrency "0"/],
    ["s3://bkt/db?concurrency=1.5", /Invalid concurrency/],
    ["s3://bkt/db?endpoint=ftp://host", /must be http/],
    ["s3://bkt/db?colour=blue", /Unknown query parameter "colour"/],
    ["s3://bkt/db?region=a&region=b", /given twice/],
    ["s3://bkt/db?forcePathStyle=true&force-path-style=true", /given twice/],
    ["s3://bkt/../db", /may not contain "\.\."/],
    ["s3://arn:aws:s3:us-east-1:1:accesspoint", /no name/],
  ];
  for (const [url, pattern] of cases) {
    assert.throws(() => parseS3Url(url), (e: unknown) => {
      assert.ok(e instanceof UsageError, `${url}: ${e}`);
      assert.match(e.message, pattern, url);
      assert.ok(!e.message.includes("\n"), url);
      return true;
    });
  }
  assert.throws(() => parseReplicaUrl("s4://bkt/db"), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.hint ?? "", /s3:\/\//);
    return true;
  });
  assert.ok((catchError(() => parseS3Url("s3://")) as UsageError).hint);
});

Deno.test("parseS3Url: credentials never appear in errors", () => {
  const err = catchError(() => parseS3Url("s3://AKIDEXAMPLE:s3cr3tValue@bkt/db"));
  assert.ok(err instanceof UsageError);
  assert.ok(!err.message.includes("s3cr3tValue"), err.message);
  const query = catchError(() => parseS3Url("s3://bkt/db?secret-access-key=s3cr3tValue"));
  assert.ok(query instanceof UsageError);
  assert.ok(!query.message.includes("s3cr3tValue"), query.message);
  assert.equal(redactUrl("s3://k:v@b/p?x=1&sas-token=abc"), "s3://REDACTED@b/p?x=1&sas-token=REDACTED");
});

Deno.test("s3SpecFromOptions: YAML keys give the same spec as the URL", () => {
  const fromYaml = s3SpecFromOptions({
    type: "s3",
    bucket: "bkt",
    path: "/db/",
    endpoint: "http://127.0.0.1:9000",
    region: "us-east-1",
    "force-path-style": true,
    "skip-verify": "false",
    "access-key-id": "AKID",
    "secret-access-key": "SECRET",
    "part-size": "8MiB",
    concurrency: 3,
    "storage-class": "STANDARD",
  }, "dbs[0].replicas[0]");
  const fromUrl = s3SpecFromOptions({
    url: "s3://bkt/db?endpoint=http://127.0.0.1:9000&partSize=8MiB&concurrency=3&storageClass=STANDARD",
    "access-key-id": "AKID",
    "secret-access-key": "SECRET",
  }, "dbs[0].replicas[0]");
  assert.deepEqual(fromYaml, fromUrl);
  assert.equal(fromYaml.partSize, 8 * 1024 * 1024);
  assert.equal(fromYaml.accessKeyId, "AKID");
});

Deno.test("s3SpecFromOptions: YAML fields win over the URL query; url excludes bucket and path", () => {
  const got = s3SpecFromOptions(
    { url: "s3://bkt/db?region=a&concurrency=4", region: "b", concurrency: 9 },
    "x",
  );
  assert.equal(got.region, "b");
  assert.equal(got.concurrency, 9);
  assert.throws(() => s3SpecFromOptions({ url: "s3://bkt/db", bucket: "other" }, "x"), /Cannot combine url/);
  assert.throws(() => s3SpecFromOptions({ bucket: "" }, "dbs[1]"), /Empty bucket in dbs\[1\]/);
  assert.throws(() => s3SpecFromOptions({ path: "db" }, "dbs[1]"), /No bucket in dbs\[1\]/);
  assert.throws(
    () => s3SpecFromOptions({ bucket: "b", "force-path-style": "sometimes" }, "x"),
    /force-path-style/,
  );
  assert.throws(() => s3SpecFromOptions({ bucket: "b", "part-size": 1000 }, "x"), /part-size/);
  assert.throws(() => s3SpecFromOptions({ bucket: "b", region: "" }, "x"), /Empty region/);
  assert.throws(() => s3SpecFromOptions({ bucket: "b", "access-key-id": "AKID" }, "x"), /both access-key-id/);
  assert.throws(
    () => s3SpecFromOptions({ bucket: "b", buckit: "c" }, "line 4"),
    /Unknown S3 replica key "buckit" in line 4/,
  );
  assert.throws(() => s3SpecFromOptions({ bucket: "b", "sse-kms-key-id": "k" }, "x"), (e: unknown) => {
    assert.match((e as UsageError).hint ?? "", /not supported yet/);
    return true;
  });
  assert.throws(() => s3SpecFromOptions({ type: "abs", bucket: "b" }, "x"), /not s3/);
  assert.throws(() => s3SpecFromOptions({ bucket: ["a"] }, "x"), /expected a string/);
});

Deno.test("ensureEndpointScheme keeps explicit schemes and rejects credentials", () => {
  assert.equal(ensureEndpointScheme("[::1]:9000"), "http://[::1]:9000");
  assert.throws(() => ensureEndpointScheme("http://user:pw@host"), /Credentials cannot go/);
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}
