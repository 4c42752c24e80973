/**
 * The test S3 server keeps S3's promises that walship's tests lean on: a part, like an object, is stored
 * whole or not at all, and only if it matches its Content-MD5 and its signed SHA-256; an object completed
 * from parts is seen whole or not at all (launcher patches 3 to 6 in s3_server.ts).
 */
import assert from "node:assert/strict";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { type S3Server, startS3Server } from "./s3_server.ts";

/** Runs `test` against a fresh server with one bucket, and stops the server after. */
async function withBucket(
  target: { Bucket: string; Key: string },
  test: (
    env: { server: S3Server; client: S3Client; target: { Bucket: string; Key: string } },
  ) => Promise<void>,
): Promise<void> {
  const server = await startS3Server();
  const client = server.client();
  try {
    await server.createBucket(target.Bucket);
    await test({ server, client, target });
  } finally {
    client.destroy();
    server.kill();
  }
}

/** Completes an upload of part 1 alone and reads the object back. */
async function completeOnePart(
  client: S3Client,
  target: { Bucket: string; Key: string },
  UploadId: string,
  ETag: string,
): Promise<Uint8Array> {
  const Parts = [{ PartNumber: 1, ETag }];
  await client.send(new CompleteMultipartUploadCommand({ ...target, UploadId, MultipartUpload: { Parts } }));
  return await (await client.send(new GetObjectCommand(target))).Body!.transformToByteArray();
}

Deno.test("s3rver keeps a stored part whole when a later attempt at it is cut short", () =>
  withBucket({ Bucket: "parts", Key: "file.ltx" }, async ({ server, client, target }) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand(target));
    const part = new Uint8Array(5 * 1024 * 1024 + 1);
    for (let at = 0; at < part.length; at += 65536) crypto.getRandomValues(part.subarray(at, at + 65536));
    const { ETag } = await client.send(
      new UploadPartCommand({ ...target, UploadId, PartNumber: 1, Body: part }),
    );

    // Another attempt at part 1, given up by its client after 1 MiB of the 5 MiB it announced. Sent
    // unsigned, as s3rver lets anonymous requests through; the connection closes mid-body.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const head = `PUT /parts/file.ltx?partNumber=1&uploadId=${UploadId} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${server.port}\r\nContent-Length: ${part.length}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    let sent = 0;
    while (sent < 1024 * 1024) sent += await conn.write(new Uint8Array(1024 * 1024 - sent).fill(0xee));
    await new Promise((r) => setTimeout(r, 300)); // the server has the bytes before the connection goes
    conn.close();
    await new Promise((r) => setTimeout(r, 300));

    const stored = await completeOnePart(client, target, UploadId!, ETag!);
    assert.equal(stored.length, part.length);
    assert.ok(stored.every((b, i) => b === part[i]), "the stored object is the whole first attempt");
  }));

Deno.test("s3rver refuses a part that does not match its Content-MD5, as S3 does", () =>
  withBucket({ Bucket: "digests", Key: "file.ltx" }, async ({ client, target }) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand(target));
    const part = crypto.getRandomValues(new Uint8Array(60_000));
    const md5 = createHash("md5").update(part).digest("base64");
    const damaged = part.slice();
    damaged[777]! ^= 0x10;
    await assert.rejects(
      () =>
        client.send(
          new UploadPartCommand({ ...target, UploadId, PartNumber: 1, Body: damaged, ContentMD5: md5 }),
        ),
      (err: Error) => err.name === "BadDigest",
    );
    const { ETag } = await client.send(
      new UploadPartCommand({ ...target, UploadId, PartNumber: 1, Body: part, ContentMD5: md5 }),
    );
    const stored = await completeOnePart(client, target, UploadId!, ETag!);
    assert.deepEqual(stored, part);
  }));

Deno.test("s3rver shows an object completed from parts whole or not at all, as S3 does", () =>
  withBucket({ Bucket: "complete", Key: "big.ltx" }, async ({ client, target }) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand(target));
    const partBytes = 5 * 1024 * 1024;
    const Parts = [];
    for (let n = 1; n <= 6; n++) {
      const part = new Uint8Array(partBytes).fill(n);
      const { ETag } = await client.send(
        new UploadPartCommand({ ...target, UploadId, PartNumber: n, Body: part }),
      );
      Parts.push({ PartNumber: n, ETag });
    }
    const total = 6 * partBytes;

    // A reader lists and looks while the upload completes: a restore planning from a live replica.
    let completed = false;
    const seen = new Set<number>();
    const watch = (async () => {
      while (!completed) {
        const listed = await client.send(new ListObjectsV2Command({ Bucket: target.Bucket }));
        for (const object of listed.Contents ?? []) seen.add(object.Size!);
      }
    })();
    await client.send(
      new CompleteMultipartUploadCommand({ ...target, UploadId, MultipartUpload: { Parts } }),
    );
    completed = true;
    await watch;
    // Answered only once the object is whole.
    const head = await client.send(new HeadObjectCommand(target));
    assert.equal(head.ContentLength, total);
    seen.delete(total);
    assert.deepEqual([...seen], [], "listings showed only the whole object");
    const stored = await (await client.send(new GetObjectCommand(target))).Body!.transformToByteArray();
    assert.equal(stored.length, total);
    assert.equal(stored[total - 1], 6);
  }));

Deno.test("s3rver refuses a part or object whose bytes do not match their signed SHA-256, as S3 does", () =>
  withBucket({ Bucket: "signed", Key: "file.ltx" }, async ({ client, target }) => {
    const part = crypto.getRandomValues(new Uint8Array(60_000));
    const sha256 = createHash("sha256").update(part).digest("hex");
    const damaged = part.slice();
    damaged[4321]! ^= 0x01;
    // Parts and PUTs declare the hash of `part` whatever they carry, as bytes damaged on the way would.
    client.middlewareStack.add((next, context) => (args) => {
      if (context.commandName === "UploadPartCommand" || context.commandName === "PutObjectCommand") {
        (args.request as { headers: Record<string, string> }).headers["x-amz-content-sha256"] = sha256;
      }
      return next(args);
    }, { step: "finalizeRequest", name: "claimSha256" });
    const isMismatch = (err: Error) => err.name === "XAmzContentSHA256Mismatch";
    const { UploadId } = await client.send(new CreateMultipartUploadCommand(target));
    await assert.rejects(
      () => client.send(new UploadPartCommand({ ...target, UploadId, PartNumber: 1, Body: damaged })),
      isMismatch,
    );
    await assert.rejects(
      () => client.send(new PutObjectCommand({ ...target, Body: damaged })),
      isMismatch,
    );
    const { ETag } = await client.send(
      new UploadPartCommand({ ...target, UploadId, PartNumber: 1, Body: part }),
    );
    assert.deepEqual(await completeOnePart(client, target, UploadId!, ETag!), part);
  }));
