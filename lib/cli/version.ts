/** `walship version`: walship, Deno and SQLite versions. */
import { DatabaseSync } from "node:sqlite";
import denoJson from "../../deno.json" with { type: "json" };
import { type Command, print } from "./command.ts";

export const VERSION: string = denoJson.version;

export const versionCommand: Command = {
  name: "version",
  usage: "Usage: walship version",
  run() {
    const db = new DatabaseSync(":memory:");
    const sqlite = (db.prepare("select sqlite_version() as v").get() as { v: string }).v;
    db.close();
    print(`walship ${VERSION} (deno ${Deno.version.deno}, sqlite ${sqlite})`);
    return Promise.resolve(0);
  },
};
