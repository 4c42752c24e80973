import assert from "node:assert/strict";
import { compressFrame } from "../../lib/ltx/lz4_frame.ts";
import { commitLags, litestreamDecoder, lz4ContentLength, percentile } from "./replica_coverage.ts";
import type { ReplicaReader } from "./replica_readers.ts";

Deno.test("lz4ContentLength() gives the decompressed length and head of a multi-block frame", () => {
  const content = new Uint8Array(200_000).map((_, i) => (i * 7919) % 251);
  const { length, head } = lz4ContentLength(compressFrame(content), 32);
  assert.equal(length, content.length);
  assert.deepEqual(head, content.subarray(0, 32));
});

Deno.test("commitLags() takes the first file reaching a commit, or any later WAL generation", () => {
  const commits = [
    { at: 1000, salt1: 7, end: 500 },
    { at: 1100, salt1: 7, end: 900 },
    { at: 1200, salt1: 9, end: 100 },
  ];
  const seen = [
    { salt1: 7, end: 600, at: 1300 },
    { salt1: 8, end: 50, at: 2000 },
    { salt1: 7, end: 900, at: 1500 },
  ];
  assert.deepEqual(commitLags(commits, seen), [300, 400, NaN]);
  // salt-1 wraps: 0 is the generation after 0xffffffff.
  const lastOfCycle = { at: 1200, salt1: 0xffffffff, end: 100 };
  assert.deepEqual(commitLags([lastOfCycle], [{ salt1: 0, end: 32, at: 1250 }]), [50]);
  assert.equal(percentile([5, NaN, 1, 3], 50), 3);
});

Deno.test("litestreamDecoder() names a segment's generation by the salt of its index's first segment", async () => {
  const walHeader = new Uint8Array(32);
  new DataView(walHeader.buffer).setUint32(16, 0xabcdef01);
  const files: Record<string, Uint8Array> = {
    "generations/0123456789abcdef/wal/00000001_00000000.wal.lz4": compressFrame(
      new Uint8Array([...walHeader, ...new Uint8Array(4120)]),
    ),
    "generations/0123456789abcdef/wal/00000001_00001038.wal.lz4": compressFrame(new Uint8Array(8240)),
  };
  const reader: ReplicaReader = {
    list: () => Promise.resolve([]),
    read: (key) => Promise.resolve(files[key]!),
    close() {},
  };
  const decoder = litestreamDecoder();
  const [first, second] = Object.keys(files);
  assert.deepEqual(await decoder.decode(first!, reader), { salt1: 0xabcdef01, end: 4152 });
  assert.deepEqual(await decoder.decode(second!, reader), { salt1: 0xabcdef01, end: 0x1038 + 8240 });
  assert.equal(
    await decoder.decode("generations/0123456789abcdef/snapshots/00000001.snapshot.lz4", reader),
    undefined,
  );
});
