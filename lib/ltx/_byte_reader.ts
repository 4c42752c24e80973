/** Pull-based byte reader over a `ReadableStream` with a small internal buffer; private to lib/ltx. */

/** Reads exact byte counts from a stream; views it returns stay valid only until the next read. */
export class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
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

  /** Buffers at least `n` contiguous bytes; false when the stream ends first. */
  async fill(n: number): Promise<boolean> {
    let have = this.#buf.length - this.#pos;
    if (have >= n) return true;
    const parts: Uint8Array[] = have > 0 ? [this.#buf.subarray(this.#pos)] : [];
    while (have < n) {
      const chunk = await this.#next();
      if (chunk === null) break;
      parts.push(chunk);
      have += chunk.length;
    }
    if (parts.length === 1) {
      this.#buf = parts[0]!;
    } else {
      const merged = new Uint8Array(have);
      let at = 0;
      for (const part of parts) {
        merged.set(part, at);
        at += part.length;
      }
      this.#buf = merged;
    }
    this.#pos = 0;
    return have >= n;
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
    if (this.#isDone) return;
    this.#isDone = true;
    await this.#reader.cancel();
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
