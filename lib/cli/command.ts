/** The shape every subcommand module exports. */
export interface Command {
  name: string;
  usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

export function print(line: string): void {
  console.log(line);
}
