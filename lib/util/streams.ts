/** Small web-stream helpers shared by the engine and the stores. */

/** A stream that opens its source on first pull, so a WriteBody can be re-opened per attempt. */
export function openLazily(open: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await open()).getReader();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

/** Passes `stream` through, awaiting `yieldTo` before each chunk (none: the stream itself). */
export function yielding(
  stream: ReadableStream<Uint8Array>,
  yieldTo?: () => Promise<void>,
): ReadableStream<Uint8Array> {
  if (!yieldTo) return stream;
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await yieldTo();
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** Reads a whole stream into one buffer. */
export async function readAllBytes(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Reads a whole stream as the chunks it came in. Cheaper than one joined buffer for a download held a
 * while: no copy, and no fresh multi-megabyte allocation (page faults cost ~2 ms per MiB here).
 */
export async function readAllChunks(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** A one-chunk stream over a buffer. */
export function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return chunksStream([bytes]);
}

/** A stream over buffers already in memory. */
export function chunksStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}
