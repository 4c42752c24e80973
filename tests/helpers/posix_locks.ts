/** Whether this process holds a POSIX lock on a file, from Linux's /proc/locks. */

/**
 * Lines look like "1: POSIX ADVISORY READ <pid> <maj:min:inode> <start> <end>". Read through `cat`:
 * Deno grants /proc files only to fully privileged processes.
 */
export function holdsPosixLock(path: string): boolean {
  const inode = Deno.statSync(path).ino;
  const locks = new Deno.Command("cat", { args: ["/proc/locks"], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(locks.stdout).split("\n").some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === "POSIX" && f[4] === String(Deno.pid) && f[5]?.endsWith(`:${inode}`);
  });
}
