import { buildWal, type FrameSpec, openTempWal, rechecksumWal } from "./_wal_builder.ts";
import { walChecksum } from "./wal_checksum.ts";
import { decodeWalHeader } from "./wal_header.ts";
import { readPageMap } from "./wal_page_map.ts";

// A 64 MiB WAL (Litestream's MaxSyncWALBytes) of 4096-byte pages in 100-frame transactions.
const PAGE_SIZE = 4096;
const frames: FrameSpec[] = [];
for (let i = 0; i < 16384; i++) frames.push({ pgno: (i % 5000) + 1, commit: i % 100 === 99 ? 5000 : 0 });
const wal = buildWal({ pageSize: PAGE_SIZE, salt1: 1, salt2: 2, frames });
const page = wal.subarray(56, 56 + PAGE_SIZE);
const size = `${(wal.length / 2 ** 20).toFixed(1)} MiB`;

for (const bigEndian of [false, true]) {
  const bytes = bigEndian ? rechecksumWal(wal, true) : wal;
  const header = decodeWalHeader(bytes)!;
  const tmp = await openTempWal(bytes);
  globalThis.addEventListener("unload", () => tmp[Symbol.dispose]());
  Deno.bench(
    `readPageMap() over a ${size} WAL, ${bigEndian ? "big" : "little"}-endian checksums`,
    async () => {
      const map = await readPageMap(tmp.file, header);
      if (map.pages.size !== 5000 || map.endOffset !== bytes.length - 84 * (PAGE_SIZE + 24)) {
        throw new Error("unexpected page map");
      }
    },
  );
}

Deno.bench("walChecksum() over one 4096-byte page", () => {
  walChecksum(page, false, 1, 2);
});
