/** xxHash32 (seed 0 by default), used by LZ4 frames for header and content checksums. */

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

function lane(p: Uint8Array, i: number): number {
  return p[i]! | (p[i + 1]! << 8) | (p[i + 2]! << 16) | (p[i + 3]! << 24);
}

/** Incremental xxHash32. */
export class Xxh32 {
  readonly #seed: number;
  #v1: number;
  #v2: number;
  #v3: number;
  #v4: number;
  #total = 0;
  readonly #pending = new Uint8Array(16);
  #pendingLength = 0;

  constructor(seed = 0) {
    this.#seed = seed | 0;
    this.#v1 = (this.#seed + P1 + P2) | 0;
    this.#v2 = (this.#seed + P2) | 0;
    this.#v3 = this.#seed;
    this.#v4 = (this.#seed - P1) | 0;
  }

  /** Feeds more bytes. */
  update(bytes: Uint8Array): void {
    this.#total += bytes.length;
    let i = 0;
    if (this.#pendingLength > 0) {
      const take = Math.min(16 - this.#pendingLength, bytes.length);
      this.#pending.set(bytes.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      i = take;
      if (this.#pendingLength < 16) return;
      this.#stripe(this.#pending, 0);
      this.#pendingLength = 0;
    }
    const end = bytes.length - 16;
    let v1 = this.#v1, v2 = this.#v2, v3 = this.#v3, v4 = this.#v4;
    for (; i <= end; i += 16) {
      v1 = round(v1, lane(bytes, i));
      v2 = round(v2, lane(bytes, i + 4));
      v3 = round(v3, lane(bytes, i + 8));
      v4 = round(v4, lane(bytes, i + 12));
    }
    this.#v1 = v1, this.#v2 = v2, this.#v3 = v3, this.#v4 = v4;
    if (i < bytes.length) {
      this.#pending.set(bytes.subarray(i), 0);
      this.#pendingLength = bytes.length - i;
    }
  }

  #stripe(p: Uint8Array, i: number): void {
    this.#v1 = round(this.#v1, lane(p, i));
    this.#v2 = round(this.#v2, lane(p, i + 4));
    this.#v3 = round(this.#v3, lane(p, i + 8));
    this.#v4 = round(this.#v4, lane(p, i + 12));
  }

  /** The hash of everything fed so far, as an unsigned 32-bit number. */
  digest(): number {
    let h: number;
    if (this.#total >= 16) {
      h = (rotl(this.#v1, 1) + rotl(this.#v2, 7) + rotl(this.#v3, 12) + rotl(this.#v4, 18)) | 0;
    } else {
      h = (this.#seed + P5) | 0;
    }
    h = (h + this.#total) | 0;
    const p = this.#pending;
    const n = this.#pendingLength;
    let i = 0;
    for (; i + 4 <= n; i += 4) h = Math.imul(rotl((h + Math.imul(lane(p, i), P3)) | 0, 17), P4);
    for (; i < n; i++) h = Math.imul(rotl((h + Math.imul(p[i]!, P5)) | 0, 11), P1);
    h ^= h >>> 15;
    h = Math.imul(h, P2);
    h ^= h >>> 13;
    h = Math.imul(h, P3);
    h ^= h >>> 16;
    return h >>> 0;
  }
}

/** xxHash32 of `bytes` with `seed` (default 0). */
export function xxh32(bytes: Uint8Array, seed = 0): number {
  const hasher = new Xxh32(seed);
  hasher.update(bytes);
  return hasher.digest();
}
