/** Small byte helpers: big-endian fields, concatenation, equality. */

export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>>
    0;
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Reads `length` bytes at `offset` of an open file; returns fewer only at end of file. Reads are
 * synchronous on purpose: page-sized reads hit the page cache in microseconds, while each async file
 * op costs a thread-pool round trip, which dominated WAL copying (thousands of pages per sync).
 */
export function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  return Promise.resolve(readAtSync(file, offset, length));
}

export function readAtSync(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const got = readIntoSync(file, offset, buf);
  return got === length ? buf : buf.subarray(0, got);
}

/** Fills `buf` from byte `offset` of an open file; returns the byte count, short only at end of file. */
export function readIntoSync(file: Deno.FsFile, offset: number, buf: Uint8Array): number {
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.length) {
    const n = file.readSync(buf.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return got;
}
