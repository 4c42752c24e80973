/**
 * Merging LTX files (spec §4.2): the header of the merged range, a k-way page merge in which the
 * newest input wins, and compaction into one new LTX file. Restore uses the same page merge to write
 * a database image directly.
 */

import { CorruptionError, WalshipError } from "../util/errors.ts";
import { LtxDecoder, type LtxPage } from "./decoder.ts";
import { LtxEncoder, type LtxEncoderOptions, type LtxSink } from "./encoder.ts";
import { type LtxHeader, noChecksumHeader } from "./header.ts";
import { formatTxid } from "./txid.ts";

/**
 * The header of the file that merges `headers` (in TXID order): range and pre-apply state of the
 * first, commit and timestamp of the last, NoChecksum, no WAL fields. The pre-apply checksum is 0
 * because a NoChecksum header cannot carry one (spec §4.2 item 8).
 * @throws CorruptionError on a page size mismatch or a TXID gap, naming the files.
 */
export function mergedHeader(headers: LtxHeader[], names?: string[]): LtxHeader {
  const first = headers[0];
  const last = headers[headers.length - 1];
  if (first === undefined || last === undefined) throw new WalshipError("Cannot merge LTX files: none given");
  const nameOf = (i: number) => names?.[i] ?? `input ${i + 1}`;
  for (let i = 1; i < headers.length; i++) {
    const prev = headers[i - 1]!;
    const next = headers[i]!;
    if (next.pageSize !== first.pageSize) {
      throw new CorruptionError(
        `Cannot merge LTX files: "${nameOf(i)}" has page size ${next.pageSize} but "${
          nameOf(0)
        }" has ${first.pageSize}`,
      );
    }
    if (next.minTxid > prev.maxTxid + 1n || next.maxTxid <= prev.maxTxid) {
      throw new CorruptionError(
        `Cannot merge LTX files: have up to ${formatTxid(prev.maxTxid)} but next file "${
          nameOf(i)
        }" starts at ` +
          `${formatTxid(next.minTxid)} and ends at ${formatTxid(next.maxTxid)}`,
      );
    }
  }
  return noChecksumHeader({
    pageSize: first.pageSize,
    commit: last.commit,
    minTxid: first.minTxid,
    maxTxid: last.maxTxid,
    timestamp: last.timestamp,
  });
}

interface Head {
  page: LtxPage;
  input: number;
}

/** Min-heap order: lower pgno first, and for equal pgno the newest (highest) input first. */
function before(a: Head, b: Head): boolean {
  return a.page.pgno < b.page.pgno || (a.page.pgno === b.page.pgno && a.input > b.input);
}

function push(heap: Head[], head: Head): void {
  let i = heap.push(head) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i]!, heap[parent]!)) break;
    [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
    i = parent;
  }
}

function pop(heap: Head[]): Head {
  const top = heap[0]!;
  const end = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = end;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
  return top;
}

/**
 * Yields the merged pages of `decoders` (oldest first, `readHeader()` already called) in ascending
 * pgno order: the newest input wins and pages beyond `commit` are dropped. A page's `data` stays
 * valid, except where it carries a `block` (decoders with `reuseBlocks`): then only the block counts, valid
 * until the generator resumes. At the end it calls
 * `finish()` on every decoder, so all checksums are verified before the generator completes. Holds
 * one page per input. On error or early exit, unfinished decoders are cancelled.
 */
export async function* mergePages(decoders: LtxDecoder[], commit: number): AsyncGenerator<LtxPage> {
  let isFinished = false;
  try {
    if (decoders.length === 1) {
      const only = decoders[0]!;
      for (let page = await only.readPage(); page !== null; page = await only.readPage()) {
        if (page.pgno <= commit) yield page;
      }
    }
    const heap: Head[] = [];
    for (let input = 0; input < decoders.length; input++) {
      const page = await decoders[input]!.readPage();
      if (page !== null) push(heap, { page, input });
    }
    while (heap.length > 0) {
      const top = pop(heap);
      const { pgno } = top.page;
      // Yielded before its decoder reads on, so the page's `block` view is still valid.
      if (pgno <= commit) yield top.page;
      await advance(decoders, heap, top.input);
      while (heap.length > 0 && heap[0]!.page.pgno === pgno) await advance(decoders, heap, pop(heap).input);
    }
    for (const decoder of decoders) await decoder.finish();
    isFinished = true;
  } finally {
    if (!isFinished) await Promise.allSettled(decoders.map((d) => d.cancel()));
  }
}

async function advance(decoders: LtxDecoder[], heap: Head[], input: number): Promise<void> {
  const page = await decoders[input]!.readPage();
  if (page !== null) push(heap, { page, input });
}

/**
 * Compacts `inputs` (in TXID order) into one LTX file written to `sink`; every input is fully
 * verified. Each stream is consumed or cancelled. Chunks are lent to the sink as LtxEncoder lends them
 * (valid until the sink's call settles): a sink that keeps bytes must copy them.
 */
export async function compactLtx(
  inputs: { stream: ReadableStream<Uint8Array>; name: string }[],
  sink: LtxSink,
  options?: LtxEncoderOptions,
): Promise<{ header: LtxHeader; size: number }> {
  // Frame-encoded output compresses every page from its data; block output reuses the stored blocks.
  const reuseBlocks = (options?.pageEncoding ?? "block") === "block";
  const decoders = inputs.map(({ stream, name }) => new LtxDecoder(stream, { name, reuseBlocks }));
  let header: LtxHeader;
  try {
    const headers: LtxHeader[] = [];
    for (const decoder of decoders) headers.push(await decoder.readHeader());
    header = mergedHeader(headers, inputs.map((input) => input.name));
  } catch (err) {
    await Promise.allSettled(decoders.map((d) => d.cancel()));
    throw err;
  }
  const encoder = new LtxEncoder(sink, header, options);
  for await (const page of mergePages(decoders, header.commit)) {
    await encoder.encodePage(page.pgno, page.data, page.block, page.crc);
  }
  const { size } = await encoder.finish();
  return { header, size };
}
