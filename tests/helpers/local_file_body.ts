/** An upload body that is a local file (`localPath`) and must never be streamed, counting its `pace` calls. */
import type { WriteBody } from "../../lib/storage/store.ts";

export async function localFileBody(
  path: string,
  data: Uint8Array,
): Promise<WriteBody & { paced: () => number }> {
  await Deno.writeFile(path, data);
  let paced = 0;
  return {
    sizeBytes: data.length,
    localPath: path,
    open: () => {
      throw new Error("a local file's body was streamed");
    },
    pace: () => Promise.resolve(void paced++),
    paced: () => paced,
  };
}
