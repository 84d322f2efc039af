/**
 * What every command line of synack shares — the `synack` command and its
 * subcommands (cli/), and the npm scripts (viz, sim, fuzz, conformance,
 * bench): the I/O seam, the command shape, strict option parsing with
 * usage errors, `--help`, and whether a module is the script Node started.
 *
 * It sits below cli/main.ts, its subcommands and the other tools, and
 * imports none of them, so none of them forms a circle through it
 * (docs/ARCHITECTURE.md, test/arch/layers.test.ts).
 *
 * Exit codes: 0 success (and `--help`), 1 the command ran and failed,
 * 2 bad usage (unknown command or option, bad option value).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  /** Whether stdout is a terminal (colour is used only then). */
  isTTY: boolean;
  env: Record<string, string | undefined>;
  writeFile(path: string, data: Uint8Array): void;
}

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[], io: CliIo): number | Promise<number>;
}

/** A usage error: printed with a hint and exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command: string | null,
  ) {
    super(message);
  }
}

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
/** What parseOptions returns for the options T. */
export type ParsedOptions<T extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>>;

/** parseArgs (strict), with its errors turned into UsageErrors that name the command. */
export function parseOptions<T extends OptionsConfig>(command: string, argv: string[], options: T, allowPositionals = false): ParsedOptions<T> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(err.message.replace(/\. To specify a positional argument.*$/s, ''), command);
    }
    throw e;
  }
}

/** A numeric option: `fallback` when absent, else a number that passes `check` (or a UsageError naming `what` it expects). */
export function numberOption(command: string, name: string, raw: string | undefined, fallback: number, check: (n: number) => boolean, what: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} expects ${what}, got '${raw}'`, command);
  return n;
}

/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the script
 * Node was started with — so a file can be both imported and run.
 */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** A standalone tool (an npm script): its name as the user types it, and its usage text. */
export interface ScriptSpec<T extends OptionsConfig> {
  /** Its short name, the prefix of its error messages, e.g. 'sim'. */
  name: string;
  /** How the user runs it, e.g. 'npm run sim --': the hint to its help says so. */
  invocation: string;
  /** The whole `--help` text, starting with "Usage:". */
  help: string;
  options: T;
  allowPositionals?: boolean;
}

/**
 * Parses a tool's arguments strictly. `--help`/`-h` prints the usage to
 * stdout and exits 0; an unknown option or a missing value prints what is
 * wrong and a hint to stderr and exits 2. Otherwise returns the values.
 */
export function parseScriptArgs<T extends OptionsConfig>(spec: ScriptSpec<T>, argv: string[] = process.argv.slice(2)): ParsedOptions<T & { help: { type: 'boolean'; short: 'h' } }> {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' } } as T & { help: { type: 'boolean'; short: 'h' } };
  let parsed;
  try {
    parsed = parseOptions(spec.name, argv, options, spec.allowPositionals === true);
  } catch (e) {
    if (e instanceof UsageError) exitUsage(spec, e.message);
    throw e;
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(spec.help.trimEnd() + '\n');
    process.exit(0);
  }
  return parsed;
}

/** Prints a usage error of a tool with the hint to its --help, and exits 2. */
export function exitUsage(spec: Pick<ScriptSpec<OptionsConfig>, 'name' | 'invocation'>, message: string): never {
  process.stderr.write(`${spec.name}: ${message}\nRun '${spec.invocation} --help' for the options.\n`);
  process.exit(2);
}
