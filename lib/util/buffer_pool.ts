/**
 * Recycled fixed-size buffers. Fresh memory is dear here: each new megabyte costs page faults and a zero
 * fill (about 1.5 ms per MiB on our 2-core machines) and garbage for a later GC, so code that streams many
 * megabytes through same-sized buffers (file reads, upload parts, staged blocks) takes them from a pool.
 *
 * Only buffers made by the pool are taken back, each at most once, and only from a holder that keeps no
 * view of it: a consumer that keeps its chunks (a Response, a failed request) simply never gives them back.
 */
export class BufferPool {
  readonly size: number;
  #maxSpare: number;
  #ours = new WeakSet<ArrayBuffer>();
  #spare: ArrayBuffer[] = [];

  /** Pools buffers of `size` bytes, keeping at most `maxSpare` unused ones. */
  constructor(size: number, maxSpare: number) {
    this.size = size;
    this.#maxSpare = maxSpare;
  }

  /** Lets the pool keep at least `maxSpare` unused buffers. */
  keepAtLeast(maxSpare: number): this {
    this.#maxSpare = Math.max(this.#maxSpare, maxSpare);
    return this;
  }

  /** How many unused buffers it keeps at most. */
  get maxSpare(): number {
    return this.#maxSpare;
  }

  /** Keeps at most `maxSpare` unused buffers from now on, letting go of any beyond that. */
  limitSpare(maxSpare: number): void {
    this.#maxSpare = maxSpare;
    this.#spare.splice(maxSpare).forEach(release);
  }

  take(): Uint8Array {
    const buffer = this.#spare.pop();
    if (buffer) return new Uint8Array(buffer);
    const fresh = new Uint8Array(this.size);
    this.#ours.add(fresh.buffer);
    return fresh;
  }

  /**
   * Counts `buffer` as one of this pool's: a buffer taken from it and moved into a new ArrayBuffer by a
   * transfer (a BYOB read transfers the buffer it fills).
   */
  adopt(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.size) this.#ours.add(buffer);
  }

  /** Takes back the buffer under `chunk` (a view will do) if it is one of this pool's. */
  give(chunk: Uint8Array): void {
    const buffer = chunk.buffer as ArrayBuffer;
    if (buffer.detached || !this.#ours.has(buffer) || this.#spare.includes(buffer)) return;
    if (this.#spare.length < this.#maxSpare) this.#spare.push(buffer);
    else release(buffer);
  }
}

/**
 * Frees a buffer's memory now (it detaches: any view left reads as empty). Left to the GC, dropped
 * buffers wait for a full collection, which V8 starts only once some 64 MiB of them have piled up.
 */
export function release(buffer: ArrayBuffer): void {
  if (!buffer.detached) buffer.transfer(0);
}

const bySize = new Map<number, BufferPool>();

/**
 * The process-wide pool of `size`-byte buffers (upload parts, staged blocks, LTX encoder batches), keeping
 * up to `maxSpare`: the most its users hold at once (for uploads, those in flight plus the one being
 * filled), so steady work allocates nothing.
 */
export function partBuffers(size: number, maxSpare: number): BufferPool {
  let pool = bySize.get(size);
  if (!pool) bySize.set(size, pool = new BufferPool(size, maxSpare));
  return pool.keepAtLeast(maxSpare);
}
