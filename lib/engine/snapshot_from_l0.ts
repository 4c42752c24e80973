/**
 * A snapshot without a second pass over the database, when the newest local L0 file already holds every
 * page at the current position (the first sync of a fresh state directory, or one after continuity was
 * lost, writes such a file): the L9 file `1-<txid>` is then that file under a snapshot header. Its
 * frames and index are the same bytes (the header is fixed-size), and the file checksum follows from
 * the header change alone (lib/ltx/reheader.ts), so the result is byte for byte what `Database.snapshot`
 * would write for that position and moment.
 */
import { join } from "node:path";
import {
  decodeHeader,
  encodeHeader,
  lockPgno,
  LTX_HEADER_SIZE,
  LTX_PAGE_HEADER_SIZE,
  noChecksumHeader,
  PAGE_FLAG_SIZE,
} from "../ltx/header.ts";
import { decodePageIndex } from "../ltx/page_index.ts";
import { checksummedLength, reheaderChecksum } from "../ltx/reheader.ts";
import { ltxFileName } from "../ltx/txid.ts";
import { SNAPSHOT_LEVEL } from "../storage/store.ts";
import { readAtSync } from "../util/bytes.ts";
import { removeIfExists, writeAll } from "../util/fs.ts";
import type { Database, LocalSnapshot } from "./database.ts";

/** The header and checksum of the snapshot the L0 file at `path` can become, or null if it cannot. */
function snapshotOf(path: string, txid: bigint, timestamp: number) {
  using file = Deno.openSync(path, { read: true });
  const size = file.statSync().size;
  if (size < LTX_HEADER_SIZE + LTX_PAGE_HEADER_SIZE + 24) return null;
  // The header and the first frame's page header (its flags), then index length and trailer.
  const head = readAtSync(file, 0, LTX_HEADER_SIZE + LTX_PAGE_HEADER_SIZE);
  const tail = readAtSync(file, size - 24, 24);
  const from = head.subarray(0, LTX_HEADER_SIZE);
  const l0 = decodeHeader(from, path);
  // Only a plain header (as walship writes them) and block-mode frames: the checksum math relies on both.
  const { pageSize, commit, minTxid, maxTxid, walOffset, walSize, walSalt1, walSalt2 } = l0;
  const plain = encodeHeader(
    noChecksumHeader(
      { pageSize, commit, minTxid, maxTxid, timestamp: l0.timestamp },
      { walOffset, walSize, walSalt1, walSalt2 },
    ),
  );
  if (maxTxid !== txid || plain.some((b, i) => b !== from[i])) return null;
  if (head[LTX_HEADER_SIZE + 5] !== PAGE_FLAG_SIZE) return null;
  const view = new DataView(tail.buffer);
  const indexLength = Number(view.getBigUint64(0));
  if (view.getBigUint64(8) !== 0n || indexLength > size - 24 - LTX_HEADER_SIZE) return null;
  const index = decodePageIndex(readAtSync(file, size - 24 - indexLength, indexLength), path);
  const pages = commit - (commit >= lockPgno(pageSize) ? 1 : 0);
  if (index.length !== pages || index[0]?.pgno !== 1 || index.at(-1)!.pgno > commit) return null;
  const header = noChecksumHeader({ pageSize, commit, minTxid: 1n, maxTxid: txid, timestamp });
  const to = encodeHeader(header);
  const covered = checksummedLength(size, pageSize, index.map((entry) => entry.size));
  const checksum = reheaderChecksum(view.getBigUint64(16), from, to, covered);
  return { header, bytes: to, checksum, size };
}

/**
 * Writes the snapshot of the position `db` synced to into its scratch directory from the newest local
 * L0 file (a kernel copy and two small writes), or returns null when that file does not hold every page
 * of the position: then `db.snapshot()` reads the database. Remove the file with `db.discardSnapshot`.
 */
export async function snapshotFromL0(
  db: Database,
  now: () => number = Date.now,
): Promise<LocalSnapshot | null> {
  const last = (await db.local.list(0)).at(-1);
  if (!last || last.maxTxid !== db.txid || db.txid === 0n) return null;
  const l0Path = db.local.pathOf(last);
  const path = join(
    db.scratchDir,
    `snapshot-${ltxFileName(1n, db.txid)}.from-l0.${crypto.randomUUID().slice(0, 8)}`,
  );
  try {
    const snapshot = snapshotOf(l0Path, db.txid, now());
    if (!snapshot) return null;
    // L0 files are never changed once renamed into place, so the copy is the file just checked.
    await Deno.copyFile(l0Path, path);
    {
      using out = await Deno.open(path, { write: true });
      await writeAll(out, snapshot.bytes);
      const checksum = new Uint8Array(8);
      new DataView(checksum.buffer).setBigUint64(0, snapshot.checksum);
      await out.seek(snapshot.size - 8, Deno.SeekMode.Start);
      await writeAll(out, checksum);
    }
    return {
      level: SNAPSHOT_LEVEL,
      minTxid: 1n,
      maxTxid: db.txid,
      sizeBytes: snapshot.size,
      createdAt: snapshot.header.timestamp,
      path,
    };
  } catch (err) {
    await removeIfExists(path);
    // Pruned by a running `replicate` meanwhile: read the database instead.
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}
