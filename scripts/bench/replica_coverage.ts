/**
 * Replication lag measured from outside, the same way for every tool: the writer records where each commit
 * ends in the WAL (salt-1, end offset); a watcher polls the replica and learns, for each new file, how far
 * into which WAL generation it reaches. A commit is durable at the first poll that lists a file reaching
 * its end in its generation, or any file of a later generation (SQLite adds 1 to salt-1 at each restart).
 * Files are read from walship's L0 LTX headers (walSalt1, walOffset + walSize) and from Litestream v0.3
 * WAL segments (`<index>_<offset>.wal.lz4`: offset + decompressed length; the offset-0 segment of each
 * index starts with the WAL header, whose salt-1 names the generation).
 * Bias: lag is overstated by up to one poll interval plus one listing; a file seen while the tool is still
 * writing it is retried at the next poll.
 */
import { decodeHeader, LTX_HEADER_SIZE } from "../../lib/ltx/header.ts";
import {
  blockSizeWord,
  decodeFrameBlock,
  frameHeaderSize,
  LZ4_FRAME_PREFIX_SIZE,
  parseFrameHeader,
  readU32Le,
} from "../../lib/ltx/lz4_frame.ts";
import type { Commit } from "./peer_writer.ts";
import type { ReplicaReader } from "./replica_readers.ts";

/** How far into the WAL a replica file reaches. */
export interface Reach {
  salt1: number;
  end: number;
}

/** Turns one tool's replica files into reaches; `undefined` for files that carry no WAL position. */
export interface ReachDecoder {
  decode(key: string, reader: ReplicaReader): Promise<Reach | undefined>;
}

const WALSHIP_L0 = /(^|\/)(0|0000)\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/;

/** walship: L0 files (`ltx/0/…` on file and Azure, `0000/…` on S3). */
export function walshipDecoder(): ReachDecoder {
  return {
    async decode(key, reader) {
      if (!WALSHIP_L0.test(key)) return undefined;
      const h = decodeHeader(await reader.read(key, LTX_HEADER_SIZE));
      return h.walSize > 0 ? { salt1: h.walSalt1, end: h.walOffset + h.walSize } : undefined;
    },
  };
}

const LITESTREAM_SEGMENT = /generations\/([0-9a-f]{16})\/wal\/([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$/;

/** Litestream v0.3: WAL segments; keys must arrive in key order so each index's offset-0 segment is first. */
export function litestreamDecoder(): ReachDecoder {
  const saltOfIndex = new Map<string, number>();
  return {
    async decode(key, reader) {
      const m = LITESTREAM_SEGMENT.exec(key);
      if (!m) return undefined;
      const index = `${m[1]}/${m[2]}`;
      const offset = parseInt(m[3]!, 16);
      const { length, head } = lz4ContentLength(await reader.read(key), 32);
      if (offset === 0) saltOfIndex.set(index, new DataView(head.buffer, head.byteOffset).getUint32(16));
      const salt1 = saltOfIndex.get(index);
      return salt1 === undefined ? undefined : { salt1, end: offset + length };
    },
  };
}

/** Decompressed length of one LZ4 frame and its first `headBytes` bytes, skipping checksum checks. */
export function lz4ContentLength(src: Uint8Array, headBytes: number): { length: number; head: Uint8Array } {
  if (src.length < LZ4_FRAME_PREFIX_SIZE) throw new Error("truncated LZ4 frame");
  const info = parseFrameHeader(src.subarray(0, frameHeaderSize(src)));
  const scratch = new Uint8Array(info.maxBlockSize);
  let head = new Uint8Array(0);
  let length = 0;
  for (let at = info.headerSize;;) {
    if (at + 4 > src.length) throw new Error("truncated LZ4 frame");
    const word = readU32Le(src, at);
    at += 4;
    if (word === 0) return { length, head };
    const { size, isStored } = blockSizeWord(word, info);
    if (at + size > src.length) throw new Error("truncated LZ4 frame");
    const n = isStored && head.length > 0
      ? size
      : decodeFrameBlock(src.subarray(at, at + size), isStored, scratch, 0, info);
    if (head.length === 0) head = scratch.slice(0, Math.min(n, headBytes));
    length += n;
    at += size + (info.hasBlockChecksum ? 4 : 0);
  }
}

/** Polls a replica and remembers when each reach was first seen. */
export class ReachWatcher {
  readonly reaches: (Reach & { at: number })[] = [];
  /** Objects of any kind listed at the last poll. */
  objectCount = 0;
  #seen = new Set<string>();
  #stopped = false;
  #loop: Promise<void> | undefined;
  #errors = 0;

  constructor(readonly reader: ReplicaReader, readonly decoder: ReachDecoder, readonly pollMs: number) {}

  start(): void {
    this.#loop ??= (async () => {
      while (!this.#stopped) {
        await this.poll().catch(() => this.#errors++);
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    })();
  }

  async poll(): Promise<void> {
    const objects = await this.reader.list();
    const at = Date.now();
    this.objectCount = objects.length;
    for (const { key } of objects) {
      if (this.#seen.has(key)) continue;
      try {
        const reach = await this.decoder.decode(key, this.reader);
        if (reach) this.reaches.push({ ...reach, at });
        this.#seen.add(key);
      } catch {
        // Still being written (s3rver streams into place): read it again at the next poll.
      }
    }
  }

  /** Whether every commit is held by a file seen so far. */
  covers(commits: Commit[]): boolean {
    return commits.every((c) => this.reaches.some((r) => reaches(r, c)));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

/** Per commit: ms from COMMIT to the first sighting of a file holding it (NaN if none did). */
export function commitLags(commits: Commit[], seen: (Reach & { at: number })[]): number[] {
  return commits.map((c) => {
    let first = Infinity;
    for (const r of seen) if (r.at < first && reaches(r, c)) first = r.at;
    return Number.isFinite(first) ? Math.max(0, first - c.at) : NaN;
  });
}

function reaches(r: Reach, c: Commit): boolean {
  if (r.salt1 === c.salt1) return r.end >= c.end;
  return ((r.salt1 - c.salt1) >>> 0) < 2 ** 31; // a later generation, modulo 2^32
}

/** The p-th percentile (nearest rank) of the finite values; NaN when there are none. */
export function percentile(values: number[], p: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
