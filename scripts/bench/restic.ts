/**
 * The restic the snapshot benchmark measures against: the one on PATH, else Debian's package unpacked into
 * the bench cache (`apt-get download` and `dpkg-deb -x`: no root, nothing installed system-wide), as the
 * Litestream peer is installed from npm into the same cache.
 */
import { join } from "node:path";
import { benchCacheDir } from "./peer_tools.ts";

/** The path of a working restic binary; when there is none, throws a one-line error naming the step that failed. */
export async function installRestic(): Promise<string> {
  if (await works("restic")) return "restic";
  const dir = benchCacheDir("restic");
  const binary = join(dir, "usr", "bin", "restic");
  if (await works(binary)) return binary;
  await Deno.mkdir(dir, { recursive: true });
  const download = await run("apt-get", ["download", "restic"], dir);
  if (download) throw new Error(`restic is not on PATH and apt-get download restic failed (${download})`);
  const deb = [...Deno.readDirSync(dir)].map((e) => e.name).find((n) => /^restic_.*\.deb$/.test(n));
  if (!deb) throw new Error("restic is not on PATH and apt-get download restic left no .deb");
  const unpack = await run("dpkg-deb", ["-x", deb, dir], dir);
  if (unpack) throw new Error(`restic is not on PATH and dpkg-deb could not unpack ${deb} (${unpack})`);
  if (!(await works(binary))) throw new Error(`restic unpacked from ${deb} does not run: ${binary}`);
  return binary;
}

async function works(binary: string): Promise<boolean> {
  try {
    return (await new Deno.Command(binary, { args: ["version"], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false; // not there
  }
}

/** Runs a command in `cwd`; its last line of error output when it fails, else undefined. */
async function run(cmd: string, args: string[], cwd: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
    if (out.success) return undefined;
    const lines = new TextDecoder().decode(out.stderr).trim().split("\n");
    return lines.at(-1) || `exit ${out.code}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
