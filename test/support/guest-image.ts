/**
 * A bootable Linux guest for the real-client tests, built at test time from
 * Debian packages only (issue 15, "Real clients in the tests"):
 *
 *   - the kernel of `linux-image-amd64` (x86_64, for QEMU) or
 *     `linux-image-686:i386` (i386, for v86), fetched with `apt-get download`
 *     and unpacked with `dpkg-deb` — never installed;
 *   - an initramfs (cpio "newc", gzip; written here, see `cpioNewc`) holding
 *     `busybox-static` of the same architecture, the kernel modules the NIC
 *     needs with their dependencies (read from each module's `.modinfo`), an
 *     /init that loads them, brings eth0 up, asks for a lease with `udhcpc`,
 *     runs the command given on the kernel command line and powers off.
 *
 * Every line /init prints on the serial console that matters to a test starts
 * with `SYNACK-GUEST: ` (see `parseTranscript`). The command is passed
 * base64-encoded as `synack_run=…` on the kernel command line (`guestCmdline`),
 * so any shell text survives the kernel's argument parsing.
 *
 * The result is cached outside git, in `$SYNACK_GUEST_CACHE`, else
 * `$XDG_CACHE_HOME/synack-guests`, else `~/.cache/synack-guests`, in a folder
 * keyed by the architecture, the NIC, the package versions and a hash of the
 * scripts below: a second boot in the same run (or a later run with the same
 * Debian versions) does not rebuild. Nothing here writes into the repository.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export type GuestArch = 'x86_64' | 'i386';
/** The NIC the guest's kernel drives: virtio-net-pci and e1000 under QEMU, ne2k-pci under v86 (its default NIC). */
export type GuestNic = 'virtio' | 'e1000' | 'ne2k';

/** The modules to insmod for each NIC (their dependencies are added, in load order). */
const NIC_MODULES: Record<GuestNic, readonly string[]> = {
  virtio: ['virtio_pci', 'virtio_net'],
  e1000: ['e1000'],
  ne2k: ['ne2k_pci'],
};

/** Markers on the serial console. */
export const MARK = 'SYNACK-GUEST: ';

/**
 * The guest's /init (busybox sh). It prints, in order: `init`, `insmod NAME`
 * failures if any, `link MAC`, `lease ip=… mask=… router=… dns=… mtu=…` (from
 * the udhcpc script) or `dhcp-failed`, `run`, the command's own output,
 * `exit RC`, and powers off (QEMU exits; v86 stops executing).
 */
const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /etc /sbin /usr/bin /usr/sbin /run
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "${MARK}init $(uname -m) $(uname -r)"
for m in $(cat /etc/modules); do
  insmod /lib/modules/$m.ko || echo "${MARK}insmod $m failed"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up
ip link set eth0 up
echo "${MARK}link $(cat /sys/class/net/eth0/address)"
dhcp=1; run=
for a in $(cat /proc/cmdline); do
  case "$a" in
    synack_dhcp=0) dhcp=0 ;;
    synack_run=*) run="\${a#synack_run=}" ;;
  esac
done
if [ "$dhcp" = 1 ]; then
  udhcpc -i eth0 -f -q -n -t 6 -T 2 -O mtu -s /etc/udhcpc.script >/dev/null 2>&1 || echo "${MARK}dhcp-failed"
fi
echo "${MARK}run"
if [ -n "$run" ]; then
  echo "$run" | base64 -d > /tmp/run.sh
  sh /tmp/run.sh
  rc=$?
else
  rc=0
fi
echo "${MARK}exit $rc"
sync
poweroff -f
`;

/** busybox udhcpc's script: address, default route, MTU, resolv.conf; one `lease` line on the console. */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "${MARK}lease ip=$ip mask=\${mask:-} router=\${router:-} dns=\${dns:-} mtu=\${mtu:-}" > /dev/console
    ;;
esac
exit 0
`;

export interface GuestImage {
  arch: GuestArch;
  nic: GuestNic;
  /** The kernel (bzImage). */
  kernel: string;
  /** The initramfs (cpio newc, gzip). */
  initrd: string;
  /** The cache folder holding both. */
  dir: string;
  /** Debian package → version used. */
  packages: Record<string, string>;
  /** Kernel modules in the initramfs, in load order. */
  modules: string[];
  /** Whether this call built the image (false: taken from the cache). */
  built: boolean;
  /** Wall time of this call, ms (the build when `built`). */
  ms: number;
}

export interface GuestImageOptions {
  arch?: GuestArch;
  /** default: virtio for x86_64, ne2k for i386 */
  nic?: GuestNic;
  cacheDir?: string;
  log?: (line: string) => void;
}

/** The cache root: $SYNACK_GUEST_CACHE, $XDG_CACHE_HOME/synack-guests or ~/.cache/synack-guests. */
export function guestCacheRoot(env: Record<string, string | undefined> = process.env): string {
  if (env['SYNACK_GUEST_CACHE']) return env['SYNACK_GUEST_CACHE'];
  const xdg = env['XDG_CACHE_HOME'];
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'synack-guests');
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** The Debian package names for an architecture: [kernel metapackage, busybox]. */
function debianNames(arch: GuestArch): { meta: string; busybox: string } {
  return arch === 'x86_64' ? { meta: 'linux-image-amd64', busybox: 'busybox-static' } : { meta: 'linux-image-686:i386', busybox: 'busybox-static:i386' };
}

function candidateVersion(pkg: string): string {
  const out = run('apt-cache', ['policy', pkg]);
  const m = /Candidate:\s*(\S+)/.exec(out);
  if (!m || m[1] === '(none)') {
    throw new Error(`apt knows no candidate for ${pkg}` + (pkg.endsWith(':i386') ? ' (run: dpkg --add-architecture i386 && apt-get update)' : ' (run: apt-get update)'));
  }
  return m[1]!;
}

/** linux-image-amd64 → linux-image-6.1.0-NN-amd64 (the package that holds the kernel). */
function kernelPackage(meta: string): string {
  const out = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', meta]);
  const m = /Depends:\s*(linux-image-[0-9]\S*)/.exec(out);
  if (!m) throw new Error(`cannot tell which kernel ${meta} depends on:\n${out}`);
  const arch = meta.includes(':') ? meta.slice(meta.indexOf(':')) : '';
  return m[1]!.replace(/:.*$/, '') + arch;
}

/** The newest modification time of apt's lists: it changes when `apt-get update` brings new ones. */
function aptListsStamp(): number {
  const dir = '/var/lib/apt/lists';
  let stamp = 0;
  try {
    for (const n of readdirSync(dir)) if (n.includes('Packages')) stamp = Math.max(stamp, statSync(join(dir, n)).mtimeMs);
  } catch {
    /* no lists: resolve every time (and fail there, saying why) */
  }
  return stamp;
}

/**
 * The kernel package and the versions apt would download. apt-cache can take
 * seconds per call (it rebuilds its cache when an index is missing), so the
 * answer is kept in the cache root beside the images while apt's lists stay
 * the same.
 */
function resolvePackages(arch: GuestArch, root: string): { kpkg: string; packages: Record<string, string> } {
  const names = debianNames(arch);
  const stamp = aptListsStamp();
  const file = join(root, `resolved-${arch}.json`);
  if (stamp) {
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as { stamp: number; kpkg: string; packages: Record<string, string> };
      if (r.stamp === stamp) return r;
    } catch {
      /* none yet */
    }
  }
  const kpkg = kernelPackage(names.meta);
  const packages: Record<string, string> = { [kpkg]: candidateVersion(kpkg), [names.busybox]: candidateVersion(names.busybox) };
  if (stamp) {
    mkdirSync(root, { recursive: true });
    writeFileSync(file, JSON.stringify({ stamp, kpkg, packages }) + '\n');
  }
  return { kpkg, packages };
}

/**
 * Builds (or finds in the cache) the guest for `arch`. Synchronous: call it
 * once per test file. When `apt-get download` fails (lists older than the
 * mirror: the version they name is gone), it runs `apt-get update` once and
 * tries again with the versions then current.
 */
export function guestImage(opts: GuestImageOptions = {}): GuestImage {
  try {
    return buildGuestImage(opts);
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith('apt-get download')) throw e;
    opts.log?.(`apt-get download failed; apt-get update and again: ${e.message.split('\n')[0]}`);
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    return buildGuestImage(opts);
  }
}

function buildGuestImage(opts: GuestImageOptions): GuestImage {
  const t0 = performance.now();
  const arch = opts.arch ?? 'x86_64';
  const nic = opts.nic ?? (arch === 'i386' ? 'ne2k' : 'virtio');
  const log = opts.log ?? (() => {});
  const names = debianNames(arch);
  const { kpkg, packages } = resolvePackages(arch, opts.cacheDir ?? guestCacheRoot());
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, arch, nic, packages, INIT, UDHCPC_SCRIPT, mods: NIC_MODULES[nic] }))
    .digest('hex')
    .slice(0, 16);
  const root = opts.cacheDir ?? guestCacheRoot();
  const dir = join(root, `${arch}-${nic}-${key}`);
  const manifest = join(dir, 'manifest.json');
  const done = (built: boolean, modules: string[]): GuestImage => ({
    arch, nic, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.gz'), dir, packages, modules, built, ms: Math.round(performance.now() - t0),
  });
  if (existsSync(manifest) && existsSync(join(dir, 'vmlinuz')) && existsSync(join(dir, 'initrd.gz'))) {
    return done(false, (JSON.parse(readFileSync(manifest, 'utf8')) as { modules: string[] }).modules);
  }
  mkdirSync(root, { recursive: true });
  const work = mkdtempSync(join(root, `.build-${arch}-`));
  try {
    log(`guest ${arch}: apt-get download ${kpkg} ${names.busybox}`);
    const dl = join(work, 'debs');
    mkdirSync(dl);
    run('apt-get', ['download', '-q', `${kpkg}=${packages[kpkg]}`, `${names.busybox}=${packages[names.busybox]}`], { cwd: dl });
    const debs = readdirSync(dl);
    const kdeb = join(dl, debs.find((f) => f.startsWith('linux-image-'))!);
    const bdeb = join(dl, debs.find((f) => f.startsWith('busybox-static'))!);
    // The kernel package holds ~400 MB of modules; unpack only the image and the
    // module trees a NIC driver can depend on.
    const kdir = join(work, 'k');
    mkdirSync(kdir);
    log(`guest ${arch}: dpkg-deb --fsys-tarfile ${kpkg}`);
    const tar = spawnSync('sh', ['-c', 'dpkg-deb --fsys-tarfile "$0" | tar -x -C "$1" --wildcards "./boot/vmlinuz-*" "./lib/modules/*/modules.builtin" "./lib/modules/*/kernel/drivers/net/*" "./lib/modules/*/kernel/drivers/virtio/*" "./lib/modules/*/kernel/net/core/*"', kdeb, kdir], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`unpacking ${kdeb}: ${tar.stderr}`);
    const bdir = join(work, 'b');
    run('dpkg-deb', ['-x', bdeb, bdir]);
    const vmlinuz = readdirSync(join(kdir, 'boot')).find((f) => f.startsWith('vmlinuz-'))!;
    const release = vmlinuz.slice('vmlinuz-'.length);
    const modRoot = join(kdir, 'lib/modules', release);
    const modules = moduleClosure(modRoot, NIC_MODULES[nic]);
    log(`guest ${arch}: kernel ${release}, modules ${modules.map((m) => m.name).join(' ')}`);

    const files: CpioEntry[] = [];
    for (const d of ['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'run', 'sbin', 'sys', 'tmp', 'usr', 'usr/bin', 'usr/sbin']) files.push({ name: d, mode: 0o040755 });
    files.push({ name: 'dev/console', mode: 0o020600, rdev: [5, 1] });
    files.push({ name: 'init', mode: 0o100755, data: Buffer.from(INIT) });
    files.push({ name: 'bin/busybox', mode: 0o100755, data: readFileSync(join(bdir, 'bin/busybox')) });
    files.push({ name: 'etc/udhcpc.script', mode: 0o100755, data: Buffer.from(UDHCPC_SCRIPT) });
    files.push({ name: 'etc/modules', mode: 0o100644, data: Buffer.from(modules.map((m) => m.name).join('\n') + '\n') });
    for (const m of modules) files.push({ name: `lib/modules/${m.name}.ko`, mode: 0o100644, data: m.data });

    const out = join(work, 'out');
    mkdirSync(out);
    copyFileSync(join(kdir, 'boot', vmlinuz), join(out, 'vmlinuz'));
    writeFileSync(join(out, 'initrd.gz'), gzipSync(cpioNewc(files), { level: 9 }));
    const names2 = modules.map((m) => m.name);
    writeFileSync(join(out, 'manifest.json'), JSON.stringify({ arch, nic, release, packages, modules: names2 }, null, 2) + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
    log(`guest ${arch}: built ${dir}`);
    return done(true, names2);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface Module {
  name: string;
  data: Buffer;
}

/** A module's dependencies, from the `depends=` string of its `.modinfo` section. */
export function moduleDepends(ko: Buffer): string[] {
  const i = ko.indexOf('\0depends=');
  if (i < 0) return [];
  const end = ko.indexOf(0, i + 1);
  const v = ko.subarray(i + '\0depends='.length, end).toString('latin1');
  return v ? v.split(',') : [];
}

/** `wanted` and their dependencies, dependencies first; modules built into the kernel are left out. */
function moduleClosure(modRoot: string, wanted: readonly string[]): Module[] {
  const norm = (s: string) => s.replace(/-/g, '_');
  const builtin = new Set(
    readFileSync(join(modRoot, 'modules.builtin'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((p) => norm(p.slice(p.lastIndexOf('/') + 1).replace(/\.ko$/, ''))),
  );
  const index = new Map<string, string>();
  (function walk(d: string) {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ko')) index.set(norm(n.slice(0, -3)), p);
    }
  })(join(modRoot, 'kernel'));
  const out: Module[] = [];
  const seen = new Set<string>();
  const visit = (name: string, chain: string[]) => {
    name = norm(name);
    if (seen.has(name) || builtin.has(name)) return;
    const p = index.get(name);
    if (!p) throw new Error(`kernel module ${name} (needed by ${chain.join(' ← ') || 'the NIC'}) is not in the unpacked trees of ${modRoot}`);
    const data = readFileSync(p);
    for (const d of moduleDepends(data)) visit(d, [name, ...chain]);
    seen.add(name);
    out.push({ name, data });
  };
  for (const w of wanted) visit(w, []);
  return out;
}

export interface CpioEntry {
  name: string;
  /** st_mode: type and permission bits */
  mode: number;
  data?: Uint8Array;
  /** [major, minor] of a device node */
  rdev?: [number, number];
}

/** An archive in the "newc" format the kernel's initramfs unpacker reads (070701 headers, 4-byte alignment, TRAILER!!!). */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    off += b.length;
  };
  const pad = () => {
    if (off % 4) push(Buffer.alloc(4 - (off % 4)));
  };
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  let ino = 1;
  for (const e of [...entries, { name: 'TRAILER!!!', mode: 0 } as CpioEntry]) {
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(e.name + '\0');
    const isDir = (e.mode & 0o170000) === 0o040000;
    const fields = [
      e.name === 'TRAILER!!!' ? 0 : ino++, e.mode, 0, 0, isDir ? 2 : 1, 0, data.length, 0, 0, e.rdev?.[0] ?? 0, e.rdev?.[1] ?? 0, name.length, 0,
    ];
    push(Buffer.from('070701' + fields.map(hex).join('')));
    push(name);
    pad();
    if (data.length) {
      push(Buffer.from(data));
      pad();
    }
  }
  return Buffer.concat(parts);
}

/** The kernel command line for a guest: serial console, quiet, exit on panic, and the command to run. */
export function guestCmdline(o: { console: string; run?: string; dhcp?: boolean; extra?: string }): string {
  const parts = [`console=${o.console}`, 'quiet', 'panic=-1', 'rdinit=/init'];
  if (o.dhcp === false) parts.push('synack_dhcp=0');
  if (o.run) parts.push(`synack_run=${Buffer.from(o.run).toString('base64')}`);
  if (o.extra) parts.push(o.extra);
  return parts.join(' ');
}

export interface Lease {
  ip: string;
  mask: string;
  router: string;
  dns: string;
  mtu: string;
}

export interface Transcript {
  /** the whole console text */
  text: string;
  /** the `lease` line's fields, when DHCP succeeded */
  lease?: Lease;
  dhcpFailed: boolean;
  /** the command's exit status, when it finished */
  exit?: number;
  /** what the command printed (the lines between `run` and `exit`) */
  output: string;
  /** `insmod NAME failed` lines */
  insmodFailures: string[];
}

/** Reads the markers /init prints (console text may carry \r). */
export function parseTranscript(raw: string): Transcript {
  const text = raw.replace(/\r/g, '');
  const lines = text.split('\n');
  const t: Transcript = { text, dhcpFailed: false, output: '', insmodFailures: [] };
  let inRun = false;
  const out: string[] = [];
  for (const line of lines) {
    const at = line.indexOf(MARK);
    if (at < 0) {
      if (inRun) out.push(line);
      continue;
    }
    const rest = line.slice(at + MARK.length).trim();
    if (rest.startsWith('lease ')) {
      const f = Object.fromEntries(rest.slice(6).split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      t.lease = { ip: f['ip'] ?? '', mask: f['mask'] ?? '', router: f['router'] ?? '', dns: f['dns'] ?? '', mtu: f['mtu'] ?? '' };
    } else if (rest === 'dhcp-failed') t.dhcpFailed = true;
    else if (rest === 'run') inRun = true;
    else if (rest.startsWith('exit ')) {
      t.exit = Number(rest.slice(5));
      inRun = false;
    } else if (rest.startsWith('insmod ')) t.insmodFailures.push(rest);
    else if (inRun) out.push(line);
  }
  t.output = out.join('\n');
  return t;
}
