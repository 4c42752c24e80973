/** An application's SQLite database in WAL mode, in a temporary directory, for engine tests. */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

export interface WalApp {
  dir: string;
  /** The database file, `app.db` in `dir`. */
  path: string;
  /** The application's connection (autocheckpoint off, so the WAL only grows unless a test checkpoints). */
  app: DatabaseSync;
  /** Closes the connection and removes `dir`. */
  cleanup(): Promise<void>;
}

/** Creates `app.db` with table `t(v)` and runs `sql` on it. */
export async function walApp(prefix: string, sql = ""): Promise<WalApp> {
  const dir = await Deno.makeTempDir({ prefix });
  const path = join(dir, "app.db");
  const app = new DatabaseSync(path);
  app.exec(`PRAGMA journal_mode = wal; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t(v); ${sql}`);
  return {
    dir,
    path,
    app,
    cleanup: async () => {
      if (app.isOpen) app.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
