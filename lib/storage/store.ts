/**
 * The replica store contract. Adapters map these five calls onto a filesystem or an SDK and turn native
 * errors into StorageError/NotFoundError; retries, limits and logging wrap a store from outside.
 */
import { bytesStream } from "../util/streams.ts";

/** Names one LTX file in a replica. */
export interface LtxFileRef {
  level: number;
  minTxid: bigint;
  maxTxid: bigint;
}

/** An LTX file as listed: `createdAt` is the LTX header timestamp (ms since the epoch) where the store keeps it. */
export interface LtxFileInfo extends LtxFileRef {
  sizeBytes: number;
  createdAt: number;
  /**
   * Set by stores that store files transformed (age-encrypted, lib/storage/encrypted.ts): the LTX file's
   * own size, where `sizeBytes` is the stored object's. Such a store may be unable to read files back.
   */
  ltxSizeBytes?: number;
}

/** Bytes to upload. `open()` is called again on each retry, so a failed attempt can be replayed. */
export interface WriteBody {
  sizeBytes: number;
  open(): ReadableStream<Uint8Array>;
  /**
   * Set when the bytes are exactly this local file's, unchanged until the write returns: a store on
   * this machine may copy it in the kernel instead of streaming it through `open()`.
   */
  localPath?: string;
  /**
   * Set when the caller removes `localPath` after the write, whatever its outcome, and nothing changes
   * it meanwhile: a store on the same filesystem may link the file into place instead of copying it.
   */
  movable?: boolean;
  /**
   * Awaited before each part of `localPath` goes out, by stores that send a file in parts: lets a
   * background upload (a compaction's) wait while work a commit's lag depends on runs. `open()` paces itself.
   */
  pace?: () => Promise<void>;
}

export interface ByteRange {
  offset: number;
  /** Bytes to read from `offset`; to the end when absent. */
  length?: number;
}

/** The HTTP Range header for a range (`bytes=first-last`, or open-ended), or undefined for the whole file. */
export function rangeHeader(range?: ByteRange): string | undefined {
  const offset = range?.offset ?? 0;
  const end = range?.length === undefined ? "" : String(offset + range.length - 1);
  return offset > 0 || end !== "" ? `bytes=${offset}-${end}` : undefined;
}

export interface ReplicaStore {
  /** Files of one level in TXID order (min, then max). An empty or missing level gives []. */
  list(level: number, signal?: AbortSignal): Promise<LtxFileInfo[]>;
  /** A stream of the file's bytes, or of a range of them. Throws NotFoundError when absent. */
  open(file: LtxFileRef, range?: ByteRange, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  /** Stores a whole file atomically: a reader never sees part of it. `createdAt` is the LTX timestamp. */
  write(
    file: LtxFileRef & { createdAt: number },
    body: WriteBody,
    signal?: AbortSignal,
  ): Promise<LtxFileInfo>;
  /** Removes files; ones already gone are not an error. */
  remove(files: readonly LtxFileRef[], signal?: AbortSignal): Promise<void>;
  /** A printable location, with every secret redacted. */
  describe(): string;
}

/** The snapshot level: full database images with MinTXID 1. */
export const SNAPSHOT_LEVEL = 9;

/** Orders files by MinTXID, then MaxTXID. */
export function compareLtxFiles(a: LtxFileRef, b: LtxFileRef): number {
  if (a.minTxid !== b.minTxid) return a.minTxid < b.minTxid ? -1 : 1;
  if (a.maxTxid !== b.maxTxid) return a.maxTxid < b.maxTxid ? -1 : 1;
  return 0;
}

/** A body over a whole in-memory buffer. */
export function bytesBody(bytes: Uint8Array): WriteBody {
  return { sizeBytes: bytes.length, open: () => bytesStream(bytes) };
}
