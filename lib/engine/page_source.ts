/** Reads a page's bytes for an LTX file: from its newest WAL frame when the page map has one, else from the database file. */
import { LtxDecoder } from "../ltx/decoder.ts";
import type { LtxHeader } from "../ltx/header.ts";
import { readFramePage, type WalFrameHeader } from "../sqlite/mod.ts";
import { bytesEqual } from "../util/bytes.ts";
import type { DatabaseFile } from "./database_file.ts";
import type { LocalStore } from "./local_store.ts";

export class PageSource {
  #db: DatabaseFile;
  #wal: Deno.FsFile | null;
  #frames: Map<number, number> | undefined;
  #pageSize: number;
  constructor(
    db: DatabaseFile,
    wal: Deno.FsFile | null,
    frames: Map<number, number> | undefined,
    pageSize: number,
  ) {
    this.#db = db;
    this.#wal = wal;
    this.#frames = frames;
    this.#pageSize = pageSize;
  }

  async read(pgno: number): Promise<Uint8Array> {
    const frameOffset = this.#frames?.get(pgno);
    if (frameOffset !== undefined && this.#wal) {
      return await readFramePage(this.#wal, frameOffset, this.#pageSize);
    }
    const data = this.#db.read((pgno - 1) * this.#pageSize, this.#pageSize);
    if (data.length === this.#pageSize) return data;
    // A page the database grew by that no frame wrote yet reads as zeros, as SQLite would see it.
    const page = new Uint8Array(this.#pageSize);
    page.set(data);
    return page;
  }
}

/**
 * Whether the WAL frame at `offset` holds the same page bytes as the position's last L0 file: the slow
 * check, used once after a restart, that the WAL was not rewritten while walship was away.
 */
export async function findPageInLtx(
  local: LocalStore,
  position: LtxHeader,
  wal: Deno.FsFile,
  offset: number,
  frame: WalFrameHeader,
): Promise<boolean> {
  const stream = await local.open({ level: 0, minTxid: position.minTxid, maxTxid: position.maxTxid });
  const decoder = new LtxDecoder(stream, { name: "local position file" });
  try {
    await decoder.readHeader();
    for (let page = await decoder.readPage(); page; page = await decoder.readPage()) {
      if (page.pgno === frame.pgno) {
        return bytesEqual(page.data, await readFramePage(wal, offset, position.pageSize));
      }
      if (page.pgno > frame.pgno) return false;
    }
    return false;
  } finally {
    await decoder.cancel();
  }
}
