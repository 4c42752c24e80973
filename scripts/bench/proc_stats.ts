/**
 * CPU time and peak memory of another live process, read from /proc through `cat`: Deno lets a script read
 * another process's /proc entries only with -A, and the bench keeps scoped permissions.
 */

export interface ProcessStats {
  /** utime + stime, in ms. */
  cpuMs: number;
  /** VmHWM: the peak resident set so far, in MiB. */
  peakRssMiB: number;
}

const CLOCK_TICKS_PER_SECOND = Number(run("getconf", ["CLK_TCK"]).trim()) || 100;

/** The process's CPU time so far and its peak RSS; throws if it has exited. */
export function processStats(pid: number): ProcessStats {
  const stat = run("cat", [`/proc/${pid}/stat`]);
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = run("cat", [`/proc/${pid}/status`]);
  const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  if (!Number.isFinite(ticks) || !Number.isFinite(hwmKiB)) throw new Error(`Cannot read /proc/${pid}`);
  return { cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_SECOND, peakRssMiB: hwmKiB / 1024 };
}

function run(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
  if (!out.success) throw new Error(`Cannot run ${cmd} ${args.join(" ")}`);
  return new TextDecoder().decode(out.stdout);
}
