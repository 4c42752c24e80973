/** `"hung"` when `promise` has not settled within `ms`, for tests that must tell a hang from an answer. */
export async function orHung<T>(promise: Promise<T>, ms: number): Promise<T | "hung"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"hung">((resolve) => timer = setTimeout(() => resolve("hung"), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
