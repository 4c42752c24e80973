/**
 * Runs VACUUM on a database from a separate process, as an application would. Deno's node:sqlite refuses
 * VACUUM (it ATTACHes) unless the process has every permission, so this test helper's child gets them;
 * walship itself never runs VACUUM and never gets -A.
 */
export async function vacuumInChild(dbPath: string): Promise<void> {
  const script = `import { DatabaseSync } from "node:sqlite";
const db = new DatabaseSync(${JSON.stringify(dbPath)}, { timeout: 5000 });
db.exec("VACUUM"); db.close();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "-A", script],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`VACUUM failed: ${new TextDecoder().decode(out.stderr)}`);
}
