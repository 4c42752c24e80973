/**
 * The main job in one go, on the embedded default (a file:// replica): create a WAL database, write to
 * it while `walship replicate` runs, stop it with SIGTERM, restore, and show that both databases match.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { dumpDigest } from "../tests/helpers/sqlite_dump.ts";

const root = new URL("..", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "walship-demo-" });
const dbPath = join(dir, "app.db");
const replicaUrl = `file://${join(dir, "replica")}`;
const restoredPath = join(dir, "restored.db");

function walship(args: string[], stdout: "inherit" | "null" = "inherit"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      join(root, "main.ts"),
      ...args,
    ],
    stdout,
    stderr: "inherit",
  }).spawn();
}

console.log(`demo directory: ${dir}`);
const app = new DatabaseSync(dbPath, { timeout: 5000 }); // apps beside a replicator need a busy timeout
app.exec(
  "PRAGMA journal_mode=wal; CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT, qty INTEGER, note BLOB)",
);

console.log(`$ walship replicate ${dbPath} ${replicaUrl}`);
const replicator = walship(["replicate", dbPath, replicaUrl]);
await new Promise((r) => setTimeout(r, 1000));

console.log("writing 600 transactions (about 200 per second) while replicating...");
const insert = app.prepare("INSERT INTO orders(item, qty, note) VALUES (?, ?, randomblob(?))");
for (let i = 0; i < 600; i++) {
  app.exec("BEGIN");
  for (let j = 0; j < 5; j++) insert.run(`item-${i}-${j}`, (i * 7 + j) % 50, 100 + ((i * 31) % 900));
  if (i % 50 === 49) app.exec(`DELETE FROM orders WHERE id % 17 = ${i % 17}`);
  app.exec("COMMIT");
  await new Promise((r) => setTimeout(r, 5));
}
await new Promise((r) => setTimeout(r, 1500));

console.log("stopping walship with SIGTERM (it syncs once more before exiting)");
replicator.kill("SIGTERM");
const stopped = await replicator.status;

console.log(`$ walship restore -o ${restoredPath} ${replicaUrl}`);
const restore = await walship(["restore", "-integrity-check", "quick", "-o", restoredPath, replicaUrl])
  .status;

const source = dumpDigest(dbPath);
const restored = restore.success ? dumpDigest(restoredPath) : null;
app.close();
console.log(`source:   ${source.rows} rows, digest ${source.digest}`);
console.log(`restored: ${restored ? `${restored.rows} rows, digest ${restored.digest}` : "restore failed"}`);
const ok = stopped.success && restored !== null && restored.digest === source.digest;
console.log(ok ? "OK: the restored database matches the source" : "FAILED: the databases differ");
await Deno.remove(dir, { recursive: true });
Deno.exit(ok ? 0 : 1);
