/**
 * Page frames in batches, so their decompression and hashing can run beside the decoder (in a Worker):
 * the decoder parses and checks frames in file order, a batch goes out as plain transferable data, and
 * the page CRCs come back to be folded into the file checksum in order (LtxDecoder.forEachBatch). The
 * decoder's own pages go through the same block decompression (decompressPage).
 */
import { crcOf } from "./checksum.ts";
import { decompressBlockJs } from "./lz4_block.ts";
import { KERNEL_DST_CAPACITY, KERNEL_SRC_CAPACITY, kernelDecompress, kernelOutput } from "./_kernels.ts";

/** A frame's page is an LZ4 block to decompress. */
export const FRAME_BLOCK = 1;
/** A frame's page is already decompressed (LZ4-frame pages are decoded by the decoder itself). */
export const FRAME_RAW = 0;

/** Frames in file order; `bytes` is the batch's own buffer, safe to transfer. */
export interface PageBatch {
  pageSize: number;
  /** Four numbers per frame: pgno, FRAME_BLOCK or FRAME_RAW, offset into `bytes`, length. */
  frames: Uint32Array;
  count: number;
  bytes: Uint8Array;
}

/** The CRC of each page (lo, hi per frame), or the first frame that does not decompress to a page. */
export type BatchResult = { crcs: Uint32Array } | { badFrame: number; reason: string };

/**
 * Decompresses and hashes every page of a batch, handing each to `put` (whose `data` is valid only
 * until it returns).
 */
export function decodeBatch(batch: PageBatch, put: (pgno: number, data: Uint8Array) => void): BatchResult {
  const { pageSize, frames, bytes } = batch;
  const crcs = new Uint32Array(batch.count * 2);
  let spare: Uint8Array | undefined;
  for (let i = 0; i < batch.count; i++) {
    const pgno = frames[i * 4]!;
    const offset = frames[i * 4 + 2]!;
    const payload = bytes.subarray(offset, offset + frames[i * 4 + 3]!);
    const page = frames[i * 4 + 1] === FRAME_RAW
      ? payload
      : decompressPage(payload, pageSize, () => spare ??= new Uint8Array(pageSize));
    if (typeof page === "string") return { badFrame: i, reason: page };
    const crc = crcOf(page);
    crcs[i * 2] = crc.lo;
    crcs[i * 2 + 1] = crc.hi;
    put(pgno, page);
  }
  return { crcs };
}

/**
 * Decompresses one block-encoded page: into the kernel's output region (valid until the next kernel
 * call) or, for a block the kernel cannot hold, into `fallback()` by the JS decoder. Returns why it is
 * not a page of `pageSize` bytes instead, in words that follow "page N ".
 */
export function decompressPage(
  block: Uint8Array,
  pageSize: number,
  fallback: () => Uint8Array,
): Uint8Array | string {
  if (block.length <= KERNEL_SRC_CAPACITY && pageSize <= KERNEL_DST_CAPACITY) {
    const n = kernelDecompress(block, pageSize);
    if (n === pageSize) return kernelOutput(n);
    // The kernel only says that it failed; the JS decoder says why.
    if (n >= 0) return `decompresses to ${n} bytes, not ${pageSize}`;
    return decompressJs(block, pageSize, new Uint8Array(pageSize));
  }
  return decompressJs(block, pageSize, fallback());
}

function decompressJs(block: Uint8Array, pageSize: number, into: Uint8Array): Uint8Array | string {
  let n: number;
  try {
    n = decompressBlockJs(block, into);
  } catch (err) {
    return `does not decompress (${err instanceof Error ? err.message : err})`;
  }
  return n === pageSize ? into : `decompresses to ${n} bytes, not ${pageSize}`;
}
