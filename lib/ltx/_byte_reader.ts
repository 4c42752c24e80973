/** Pull-based byte reader over a `ReadableStream` with a small internal buffer; private to lib/ltx. */
import { recycleReadBuffer } from "../util/read_buffers.ts";

/** Reads exact byte counts from a stream; views it returns stay valid only until the next read. */
export class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  /** Chunks (or their unread tails) received but not yet in `#buf`, oldest first. */
  #pending: Uint8Array[] = [];
  #consumed = 0;
  #isDone = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.#consumed;
  }

  /** Whether `n` bytes can be taken without waiting. */
  has(n: number): boolean {
    return this.#buf.length - this.#pos >= n;
  }

  /**
   * Buffers at least `n` contiguous bytes; false when the stream ends first. Only the bytes that
   * straddle a chunk boundary are copied: the rest of the last chunk stays pending as a view.
   */
  async fill(n: number): Promise<boolean> {
    const left = this.#buf.length - this.#pos;
    if (left >= n) return true;
    if (left === 0 && this.#pending.length > 0) {
      recycleReadBuffer(this.#buf);
      this.#buf = this.#pending.shift()!;
      this.#pos = 0;
      if (this.#buf.length >= n) return true;
    }
    let have = this.#buf.length - this.#pos;
    for (const chunk of this.#pending) have += chunk.length;
    while (have < n) {
      const chunk = await this.#next();
      if (chunk === null) return false;
      this.#pending.push(chunk);
      have += chunk.length;
    }
    const merged = new Uint8Array(n);
    merged.set(this.#buf.subarray(this.#pos));
    let at = this.#buf.length - this.#pos;
    while (at < n) {
      const chunk = this.#pending[0]!;
      const take = Math.min(chunk.length, n - at);
      merged.set(chunk.subarray(0, take), at);
      at += take;
      if (take === chunk.length) recycleReadBuffer(this.#pending.shift()!);
      else this.#pending[0] = chunk.subarray(take);
    }
    recycleReadBuffer(this.#buf);
    this.#buf = merged;
    this.#pos = 0;
    return true;
  }

  /** A view of the next `n` buffered bytes without consuming them (call `has` or `fill` first). */
  peek(n: number): Uint8Array {
    return this.#buf.subarray(this.#pos, this.#pos + n);
  }

  /** Takes `n` buffered bytes (call `has` or `fill` first). */
  take(n: number): Uint8Array {
    const start = this.#pos;
    this.#pos += n;
    this.#consumed += n;
    return this.#buf.subarray(start, start + n);
  }

  /** Takes one buffered byte. */
  takeByte(): number {
    this.#consumed++;
    return this.#buf[this.#pos++]!;
  }

  /** Reads exactly `n` bytes, or null when the stream ends first. */
  async read(n: number): Promise<Uint8Array | null> {
    if (!this.has(n) && !(await this.fill(n))) return null;
    return this.take(n);
  }

  /** Whether the stream has no bytes left. */
  async isAtEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Releases the stream without reading the rest. */
  async cancel(): Promise<void> {
    this.releaseBuffers();
    if (this.#isDone) return;
    this.#isDone = true;
    await this.#reader.cancel();
  }

  /**
   * Hands the buffered chunks back for reuse, for a reader that will read no more and holds no view:
   * the last chunks of a file would otherwise wait for the GC.
   */
  releaseBuffers(): void {
    for (const chunk of [this.#buf, ...this.#pending]) recycleReadBuffer(chunk);
    this.#buf = new Uint8Array(0);
    this.#pos = 0;
    this.#pending = [];
  }

  async #next(): Promise<Uint8Array | null> {
    if (this.#isDone) return null;
    for (;;) {
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#isDone = true;
        this.#reader.releaseLock();
        return null;
      }
      if (value.length > 0) return value;
    }
  }
}
