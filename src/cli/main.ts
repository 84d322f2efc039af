/**
 * The `synack` command line. Each command is one entry of COMMANDS: a name,
 * a one-line summary, its help text and a `run(argv, io)` that returns an
 * exit code. Add a command by adding an entry (serve/connect/get/ping/trace).
 *
 * Exit codes: 0 success, 1 the command ran and failed, 2 bad usage (unknown
 * command or option, bad option value).
 */
import { writeFileSync } from 'node:fs';
import { runDemo, DemoOptionError, DEMO_MAX_BYTES, type DemoOptions } from './demo.ts';
import { serveCommand } from './serve.ts';
import { connectCommand } from './connect.ts';
import { getCommand } from './get.ts';
import { traceCommand } from './trace.ts';
import { gatewayCommand } from './gateway.ts';
import { pingCommand } from './ping.ts';
import { sweepArrayBuffersOnMainThread } from '../links/v8-tuning.ts';
import { isEntryPoint, numberOption, parseOptions, UsageError, type CliIo, type Command } from './options.ts';

export { parseOptions, UsageError, type CliIo, type Command } from './options.ts';

// =============================================================================
// demo
// =============================================================================

const DEMO_HELP = `Usage: synack demo [options]

Two userspace TCP stacks (client 10.0.0.1, server 10.0.0.2; with --ipv6
fd00::1 and fd00::2) on an in-memory network with a virtual clock: the client connects, sends a message, the
server answers, both close. Every segment is drawn as one row of a ladder
diagram with the flags, seq/ack, window, length and each side's TCP state.

Options:
  --bytes N               send N bytes instead of "hello, synack" (1..${DEMO_MAX_BYTES})
  --loss P                drop each packet with probability P (0..0.9)
  --seed N                seed for ISNs, ports and losses (default 1)
  --delay MS              one-way delay in milliseconds (default 10)
  --simultaneous-open     both sides connect to each other at the same moment
  --simultaneous-close    both sides close at the same moment
  --reset                 abortive close: the client aborts with RST
  --ipv6                  run over IPv6 (TCP in IPv6, RFC 8200) instead of IPv4
  --pcap FILE             write every packet to FILE (pcap, LINKTYPE_RAW)
  --json                  one JSON object per line instead of the ladder
  --absolute              raw sequence numbers (default: relative to each ISN)
  --full                  show every row (default: long data runs collapse)
  --no-color              no ANSI colours (also: NO_COLOR set, or not a TTY)
  --color                 ANSI colours even when stdout is not a TTY
  --lang en|ko            language of the annotations (default en)
  -h, --help              this help

Examples:
  synack demo
  synack demo --loss 0.2 --seed 3
  synack demo --bytes 100000
  synack demo --simultaneous-open --simultaneous-close
  synack demo --ipv6 --pcap demo6.pcap && synack trace demo6.pcap
  synack demo --pcap demo.pcap && tshark -r demo.pcap`;

const DEMO_OPTIONS = {
  bytes: { type: 'string' },
  loss: { type: 'string' },
  seed: { type: 'string' },
  delay: { type: 'string' },
  'simultaneous-open': { type: 'boolean' },
  'simultaneous-close': { type: 'boolean' },
  reset: { type: 'boolean' },
  ipv6: { type: 'boolean' },
  pcap: { type: 'string' },
  json: { type: 'boolean' },
  absolute: { type: 'boolean' },
  full: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  color: { type: 'boolean' },
  lang: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Turns `synack demo` arguments into DemoOptions (throws UsageError). */
export function parseDemoArgs(argv: string[], io: Pick<CliIo, 'isTTY' | 'env'>): { opts: Partial<DemoOptions>; pcapPath: string | null; help: boolean } {
  const { values: v } = parseOptions('demo', argv, DEMO_OPTIONS);
  if (v.help) return { opts: {}, pcapPath: null, help: true };
  const lang = v.lang ?? 'en';
  if (lang !== 'en' && lang !== 'ko') throw new UsageError(`--lang expects 'en' or 'ko', got '${lang}'`, 'demo');
  if (v.reset && v['simultaneous-close']) throw new UsageError('--reset and --simultaneous-close cannot be combined', 'demo');
  if (v.pcap === '') throw new UsageError('--pcap expects a file name', 'demo');
  const noColor = v['no-color'] === true || (io.env['NO_COLOR'] !== undefined && io.env['NO_COLOR'] !== '');
  const color = v.color === true ? !v['no-color'] : io.isTTY && !noColor;
  const opts: Partial<DemoOptions> = {
    delayMs: numberOption('demo', 'delay', v.delay, 10, (n) => n >= 0 && n <= 10_000, 'milliseconds in 0..10000'),
    loss: numberOption('demo', 'loss', v.loss, 0, (n) => n >= 0 && n <= 0.9, 'a probability in 0..0.9'),
    seed: numberOption('demo', 'seed', v.seed, 1, (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'an integer in 0..4294967295'),
    bytes: v.bytes === undefined ? null : numberOption('demo', 'bytes', v.bytes, 0, (n) => Number.isInteger(n) && n >= 1 && n <= DEMO_MAX_BYTES, `an integer in 1..${DEMO_MAX_BYTES}`),
    simultaneousOpen: v['simultaneous-open'] === true,
    simultaneousClose: v['simultaneous-close'] === true,
    reset: v.reset === true,
    json: v.json === true,
    absolute: v.absolute === true,
    full: v.full === true,
    color,
    lang,
    pcap: v.pcap !== undefined,
    ipv6: v.ipv6 === true,
  };
  return { opts, pcapPath: v.pcap ?? null, help: false };
}

const demoCommand: Command = {
  name: 'demo',
  summary: 'draw a TCP connection (handshake, data, close) as a ladder diagram',
  help: DEMO_HELP,
  run(argv, io) {
    const { opts, pcapPath, help } = parseDemoArgs(argv, io);
    if (help) {
      io.stdout(DEMO_HELP);
      return 0;
    }
    let result;
    try {
      result = runDemo(opts, io.stdout);
    } catch (e) {
      if (e instanceof DemoOptionError) throw new UsageError(e.message, 'demo');
      throw e;
    }
    if (pcapPath !== null && result.pcap) {
      try {
        io.writeFile(pcapPath, result.pcap);
      } catch (e) {
        io.stderr(`synack demo: cannot write ${pcapPath}: ${(e as Error).message}`);
        return 1;
      }
      if (!opts.json) io.stdout(`pcap: ${result.segments} packets written to ${pcapPath}`);
    }
    return result.completed ? 0 : 1;
  },
};

// =============================================================================
// help and the command table
// =============================================================================

const helpCommand: Command = {
  name: 'help',
  summary: 'list the commands, or show the help of one: synack help demo',
  help: 'Usage: synack help [COMMAND]\n\nLists the commands, or prints the help of COMMAND.',
  run(argv, io) {
    const { positionals, values } = parseOptions('help', argv, { help: { type: 'boolean', short: 'h' } }, true);
    if (values.help) {
      io.stdout(helpCommand.help);
      return 0;
    }
    const name = positionals[0];
    if (name !== undefined) {
      const cmd = COMMANDS.get(name);
      if (!cmd) throw new UsageError(`unknown command '${name}'`, null);
      io.stdout(cmd.help);
      return 0;
    }
    io.stdout(topHelp());
    return 0;
  },
};

/** Every command, by name. Others add theirs here. */
export const COMMANDS = new Map<string, Command>([
  [demoCommand.name, demoCommand],
  [serveCommand.name, serveCommand],
  [connectCommand.name, connectCommand],
  [getCommand.name, getCommand],
  [pingCommand.name, pingCommand],
  [traceCommand.name, traceCommand],
  [gatewayCommand.name, gatewayCommand],
  [helpCommand.name, helpCommand],
]);

function topHelp(): string {
  const width = Math.max(...[...COMMANDS.keys()].map((k) => k.length));
  const lines = [...COMMANDS.values()].map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return ['Usage: synack <command> [options]', '', 'A userspace TCP/IP stack in TypeScript.', '', 'Commands:', ...lines, '', "Run 'synack <command> --help' for a command's options."].join('\n');
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io: CliIo = nodeIo()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h') {
      io.stdout(topHelp());
      return name === undefined ? 2 : 0;
    }
    const cmd = COMMANDS.get(name);
    if (!cmd) throw new UsageError(`unknown command '${name}'`, null);
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      const prefix = e.command ? `synack ${e.command}` : 'synack';
      io.stderr(`${prefix}: ${e.message}`);
      io.stderr(e.command ? `Run 'synack ${e.command} --help' for the options.` : "Run 'synack --help' for the commands.");
      return 2;
    }
    io.stderr(`synack: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  }
}

export function nodeIo(): CliIo {
  // This process is the synack command: free dead packet buffers inside the
  // scavenge that finds them (links/v8-tuning.ts: without it, kernel →
  // synack over TUN falls into mark-compact storms on a busy machine).
  sweepArrayBuffersOnMainThread();
  // `synack demo | head`: a closed pipe ends the output quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  return {
    stdout: (line) => process.stdout.write(line + '\n'),
    stderr: (line) => process.stderr.write(line + '\n'),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    writeFile: (path, data) => writeFileSync(path, data),
  };
}

if (isEntryPoint(import.meta.url)) {
  // Output through process.stdout.write may be asynchronous on pipes: set
  // exitCode and let Node flush, instead of process.exit().
  process.exitCode = await main(process.argv.slice(2));
}
