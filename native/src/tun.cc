// synack-tun: Linux TUN device access for synack (N-API via node-addon-api).
//
// A TunDevice opens /dev/net/tun with IFF_TUN | IFF_NO_PI (each read and
// write one IP packet) or, with { tap: true }, IFF_TAP | IFF_NO_PI (each one
// Ethernet frame without FCS), attaches to (or creates) a device by name,
// and sets the fd non-blocking. Reading happens
// on the event loop thread: a uv_poll handle watches the fd, and when it is
// readable the addon drains it in batches — read() after read() into one
// arena (an ArrayBuffer shared with JS) until EAGAIN, a packet budget or a
// full arena — and then calls JS once per batch with the packet count; the
// lengths are in a Uint32Array that is shared too. No threadpool, no copy
// in C++: JS slices each packet out of the arena into a buffer of its own,
// except the large packets of a run, which the addon reads straight into
// buffers JS lent it for that (addSpare).
//
// Writing is synchronous and non-blocking: write() per packet (a TUN fd takes
// exactly one packet per write), singly or as a batch from one JS call;
// writeChains() writes each packet from several parts with one writev().
//
// Offloads ({ offload: true }): the device is opened with IFF_VNET_HDR
// (TUNSETVNETHDRSZ 10) and TUNSETOFFLOAD asks for TUN_F_CSUM | TUN_F_TSO4 |
// TUN_F_TSO6. Every read then starts with a struct virtio_net_hdr (partial
// checksums, GSO segments of up to 64 KiB from the kernel) and every write
// must start with one (the JS side builds it; write()/writeBatch() prepend
// an all-zero header). When the kernel refuses the offloads, `offloads` is
// 0 (or TUN_F_CSUM) and `offloadErrno` says why; when it refuses
// IFF_VNET_HDR, `vnetHdrLen` is 0 and the device is in plain mode. On a TAP
// device the header works the same way, its offsets counted from the start
// of the Ethernet frame.
//
// Errors carry `code` (ENOENT, EPERM, ENODEV, EBUSY, …), `errno`, `syscall`
// and a message that says what to do.

#include <napi.h>
#include <uv.h>

#include "bytes.h"
#include "netns.h"
#include "polled-fd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <thread>

// The ICMP echo socket class (icmp.cc).
Napi::Function InitIcmpSocket(Napi::Env env);
Napi::Function InitHostSockets(Napi::Env env);
Napi::Function InitTrimMemory(Napi::Env env);
Napi::Function InitExecve(Napi::Env env);

namespace {

const char* ErrnoName(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBADFD: return "EBADFD";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case EIO: return "EIO";
    case EFAULT: return "EFAULT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EMSGSIZE: return "EMSGSIZE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EBADMSG: return "EBADMSG";
    default: return "EUNKNOWN";
  }
}

Napi::Error SysError(Napi::Env env, int err, const char* syscall, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

std::string Strerror(int err) { return std::string(strerror(err)); }

// ---- network namespaces -------------------------------------------------------
//
// A TUN/TAP device lives in the network namespace its /dev/net/tun fd was
// opened in: the kernel records the opener's namespace at open()
// (tun_chr_open: the tun_file's socket takes current->nsproxy->net_ns) and
// TUNSETIFF looks up or creates the device there, wherever the fd is used
// later. So to serve a device inside another namespace (slirp4netns
// --netns-type=path) only the open() — and the name lookup, and the
// configuring ioctls on an AF_INET socket, whose namespace is also fixed at
// socket() — must happen in that namespace; reading and writing the fd
// afterwards works from the host's namespace.
//
// How to be there: setns(2) changes the namespace of the calling THREAD
// only, and CLONE_NEWNET is allowed in a multithreaded process. Node's main
// thread must never switch (every socket libuv or Node opens afterwards
// would land in the guest's namespace), so the work runs on a short-lived
// std::thread that joins the namespace, does it and exits; the main thread
// waits for it (a few syscalls). slirp4netns forks a child and passes the fd
// back over a Unix socket with SCM_RIGHTS; a thread needs neither a fork of
// a multithreaded Node process nor the fd passing, and the fd is simply
// shared.
//
// That is enough when this process has CAP_SYS_ADMIN over the namespace
// (root). A rootless container's network namespace belongs to a user
// namespace, and joining a user namespace is refused to a multithreaded
// process: with `userns`, the open, TUNSETIFF and the configuration happen
// in a fork()ed child that joins both and passes the fd back (netns.cc,
// OpenInUserns) — slirp4netns's way.
struct NsResult {
  int err = 0;
  const char* step = "";
};

template <typename F>
NsResult InNetns(const std::string& nsPath, F fn) {
  NsResult res;
  std::thread t([&]() {
    int nsfd = open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0) {
      res.err = errno;
      res.step = "open";
      return;
    }
    if (setns(nsfd, CLONE_NEWNET) < 0) {
      res.err = errno;
      res.step = "setns";
      close(nsfd);
      return;
    }
    close(nsfd);
    fn(res);
  });
  t.join();
  return res;
}

Napi::Error NetnsError(Napi::Env env, const std::string& nsPath, const NsResult& r) {
  std::string step = r.step;
  if (step == "open") return SysError(env, r.err, "open", "cannot open the network namespace " + nsPath + ": " + Strerror(r.err));
  if (step == "setns") {
    return SysError(env, r.err, "setns",
                    "cannot enter the network namespace " + nsPath + ": " + Strerror(r.err) +
                        (r.err == EINVAL ? " (is it a network namespace, e.g. /run/netns/NAME or /proc/PID/ns/net?)"
                         : r.err == EPERM ? " (needs CAP_SYS_ADMIN over it: run as root; a rootless container's network namespace belongs to "
                                            "a user namespace of yours — give that too, the userns option, e.g. /proc/PID/ns/user)"
                                          : " (needs CAP_SYS_ADMIN)"));
  }
  return SysError(env, r.err, r.step, std::string("in the network namespace ") + nsPath + ": " + r.step + ": " + Strerror(r.err));
}

// ---- making the device: errors, the rootless path ----------------------------

// What the error messages name: the device and where it was to be.
struct DeviceWhat {
  std::string name;
  bool tap;
  bool multiQueue;
  std::string netns;
  std::string userns;
};

Napi::Error WithPath(Napi::Error e, const std::string& path) {
  if (!path.empty()) e.Set("path", Napi::String::New(e.Env(), path));
  return e;
}

// A failed DeviceResult (netns.h) as the error the caller gets: which step,
// which errno, which path, and what to do about it.
Napi::Error DeviceError(Napi::Env env, const synack::DeviceResult& r, const DeviceWhat& w) {
  const std::string step = r.step;
  const int e = r.err;
  const std::string& name = w.name;
  const std::string kind = w.tap ? "TAP" : "TUN";
  const std::string ipMode = w.tap ? "tap" : "tun";
  const bool rootless = !w.userns.empty();
  // Where the helper was: "in the network namespace N (user namespace U)".
  const std::string where = w.netns.empty() ? std::string() : " in the network namespace " + w.netns + (rootless ? " (user namespace " + w.userns + ")" : "");
  if (step == "open") {
    if (e == ENOENT) {
      return SysError(env, e, "open",
                      "/dev/net/tun does not exist: load the tun driver (modprobe tun) or, in a container, "
                      "pass the device in (e.g. --device /dev/net/tun)");
    }
    if ((e == EACCES || e == EPERM) && rootless) {
      return WithPath(SysError(env, e, "open",
                               "permission denied opening /dev/net/tun from the user namespace " + w.userns +
                                   ": the device node's owner is not mapped there, so only its mode counts — it must be "
                                   "readable and writable by everyone (mode 0666, as most distributions ship it: chmod 0666 /dev/net/tun)"),
                      "/dev/net/tun");
    }
    if (e == EACCES || e == EPERM) {
      return SysError(env, e, "open",
                      "permission denied opening /dev/net/tun: run as root, or give this process access to the "
                      "device node and CAP_NET_ADMIN");
    }
    if (e == ENXIO || e == ENODEV) {
      return SysError(env, e, "open", "/dev/net/tun exists but the tun driver is not loaded (modprobe tun)");
    }
    return SysError(env, e, "open", "cannot open /dev/net/tun: " + Strerror(e));
  }
  if (step == "attach") {
    return SysError(env, ENODEV, "TUNSETIFF",
                    "no such device: " + name + where + " (create it first: ip tuntap add dev " + name + " mode " + ipMode +
                        ", or let synack create it)");
  }
  if (step == "create") return SysError(env, EEXIST, "TUNSETIFF", "device " + name + " already exists" + where);
  if (step == "TUNSETIFF") {
    if (e == EPERM || e == EACCES) {
      if (rootless) {
        return SysError(env, e, "TUNSETIFF",
                        "creating " + kind + " device " + name + where +
                            ": operation not permitted: this needs CAP_NET_ADMIN in the user namespace that owns the network namespace "
                            "(is " + w.userns + " that one?)");
      }
      return SysError(env, e, "TUNSETIFF",
                      std::string(r.exists ? "attaching to" : "creating") + " " + kind + " device " + name +
                          ": operation not permitted: this needs CAP_NET_ADMIN (run as root), or a device made "
                          "for your user: ip tuntap add dev " + name + " mode " + ipMode + " user $USER");
    }
    if (e == EBUSY) {
      return SysError(env, e, "TUNSETIFF",
                      kind + " device " + name + " is busy: another process has it open (a single-queue " + kind +
                          " device takes one reader; a multi-queue one at most 256 queues)");
    }
    if (e == EINVAL) {
      return SysError(env, e, "TUNSETIFF",
                      "device " + name + " is not a " + (w.multiQueue ? "multi" : "single") + "-queue " + kind + " device (it is a " +
                          (w.tap ? "TUN" : "TAP") + " device, " + (w.multiQueue ? "single" : "multi") + "-queue, or not a tun/tap device at all)");
    }
    if (e == ENODEV) return SysError(env, e, "TUNSETIFF", "no such device: " + name);
    return SysError(env, e, "TUNSETIFF", "cannot attach to " + kind + " device " + name + ": " + Strerror(e));
  }
  if (step == "setns user") {
    std::string why = e == EPERM ? " (a user namespace can be entered by the user that made it — its owner — or with CAP_SYS_ADMIN over it)"
                      : e == EINVAL ? " (is it a user namespace, e.g. /proc/PID/ns/user?)"
                                    : "";
    return WithPath(SysError(env, e, "setns", "cannot enter the user namespace " + w.userns + ": " + Strerror(e) + why), w.userns);
  }
  if (step == "setns net") {
    std::string why = e == EPERM ? " (from inside that user namespace: the network namespace must be one it owns — give the user namespace "
                                   "of the process that made the network namespace, e.g. /proc/PID/ns/user with the same PID)"
                      : e == EINVAL ? " (is it a network namespace, e.g. /run/netns/NAME or /proc/PID/ns/net?)"
                                    : "";
    return WithPath(SysError(env, e, "setns", "cannot enter the network namespace " + w.netns + " from the user namespace " + w.userns + ": " + Strerror(e) + why),
                    w.netns);
  }
  if (step == "child") {
    // e is the helper's wait status.
    std::string how = WIFSIGNALED(e) ? "killed by signal " + std::to_string(WTERMSIG(e)) : "exit status " + std::to_string(WEXITSTATUS(e));
    Napi::Error x = Napi::Error::New(env, "the helper process that makes the " + kind + " device" + where + " ended without a report (" + how + ")");
    x.Set("code", Napi::String::New(env, "ERR_SYNACK_TUN_HELPER"));
    x.Set("syscall", Napi::String::New(env, "fork"));
    return WithPath(x, w.netns);
  }
  if (step == "socketpair" || step == "fork" || step == "recvmsg" || step == "timeout") {
    return WithPath(SysError(env, e, step == "timeout" ? "poll" : r.step,
                             "cannot make the " + kind + " device " + name + where + ": " + step + ": " + Strerror(e)),
                    w.netns);
  }
  // The configuring steps (ConfigureHere).
  return WithPath(SysError(env, e, r.step, "configuring " + name + where + ": " + step + ": " + Strerror(e)), w.netns);
}

// The IPv4 configuration of configureNetns and TunDevice's options.configure.
synack::NsConfig ParseNsConfig(Napi::Env env, const std::string& who, const std::string& name, Napi::Object o) {
  synack::NsConfig cfg;
  if (name.empty() || name.size() >= IFNAMSIZ) throw Napi::TypeError::New(env, "bad interface name '" + name + "'");
  strncpy(cfg.name, name.c_str(), IFNAMSIZ - 1);
  cfg.mtu = o.Get("mtu").ToNumber().Int32Value();
  std::string address = o.Get("address").ToString().Utf8Value();
  int prefixLen = o.Get("prefixLen").ToNumber().Int32Value();
  std::string gateway = o.Has("gateway") && o.Get("gateway").IsString() ? o.Get("gateway").As<Napi::String>().Utf8Value() : "";
  if (inet_pton(AF_INET, address.c_str(), &cfg.addr) != 1) throw Napi::TypeError::New(env, who + ": not an IPv4 address: " + address);
  if (!gateway.empty() && inet_pton(AF_INET, gateway.c_str(), &cfg.gateway) != 1) throw Napi::TypeError::New(env, who + ": not an IPv4 address: " + gateway);
  cfg.hasGateway = !gateway.empty();
  if (prefixLen < 0 || prefixLen > 32) throw Napi::RangeError::New(env, who + ": prefixLen must be 0..32");
  cfg.mask.s_addr = htonl(prefixLen == 0 ? 0 : 0xffffffffu << (32 - prefixLen));
  return cfg;
}

// How long the helper child may take (a few system calls; seconds only on a
// badly loaded machine).
constexpr int kHelperTimeoutMs = 20000;

// Opens both namespace files here (so a bad path is reported as such), then
// OpenInUserns. The user namespace is joined only when it is not this
// process's own (setns(2) refuses to re-enter the current one: EINVAL).
void OpenInUsernsPaths(Napi::Env env, const std::string& userns, const std::string& netns, const synack::DeviceSpec& spec,
                       const synack::NsConfig* cfg, synack::DeviceResult* res) {
  int ufd = open(userns.c_str(), O_RDONLY | O_CLOEXEC);
  if (ufd < 0) {
    int e = errno;
    throw WithPath(SysError(env, e, "open", "cannot open the user namespace " + userns + ": " + Strerror(e)), userns);
  }
  int nfd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (nfd < 0) {
    int e = errno;
    close(ufd);
    throw WithPath(SysError(env, e, "open", "cannot open the network namespace " + netns + ": " + Strerror(e)), netns);
  }
  struct stat target, own;
  bool join = true;
  if (fstat(ufd, &target) == 0 && stat("/proc/self/ns/user", &own) == 0) {
    join = !(target.st_dev == own.st_dev && target.st_ino == own.st_ino);
  }
  synack::OpenInUserns(ufd, nfd, join, spec, cfg, kHelperTimeoutMs, res);
  close(ufd);
  close(nfd);
}

// Default sizes: every read may return a packet as large as 65535 bytes (the
// largest IPv4 packet), so the arena keeps at least that much room free.
// With IFF_VNET_HDR a read carries a virtio_net_hdr before the packet, and a
// GSO packet from the kernel may be an IPv6 packet of 40 + 65535 bytes; on a
// TAP device, behind a 14-byte Ethernet header (18 with an 802.1Q tag).
constexpr size_t kReadSize = 65535 + 128;
// struct virtio_net_hdr (without num_buffers): flags, gso_type, hdr_len,
// gso_size, csum_start, csum_offset.
constexpr int kVnetHdrLen = 10;
const uint8_t kZeroVnetHdr[kVnetHdrLen] = {0};
// In `lengths`: the packet was read into a spare buffer (AddSpare).
constexpr uint32_t kInSpare = 0x80000000u;
constexpr size_t kDefaultArenaBytes = 2 * 1024 * 1024;
constexpr uint32_t kDefaultMaxBatch = 256;
constexpr uint32_t kDefaultMaxRounds = 8;

class TunDevice : public Napi::ObjectWrap<TunDevice> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TunDevice",
                       {
                           InstanceMethod<&TunDevice::Start>("start"),
                           InstanceMethod<&TunDevice::Stop>("stop"),
                           InstanceMethod<&TunDevice::Write>("write"),
                           InstanceMethod<&TunDevice::WriteBatch>("writeBatch"),
                           InstanceMethod<&TunDevice::WriteChains>("writeChains"),
                           InstanceMethod<&TunDevice::Close>("close"),
                           InstanceMethod<&TunDevice::Ref>("ref"),
                           InstanceMethod<&TunDevice::Unref>("unref"),
                           InstanceMethod<&TunDevice::Stats>("stats"),
                           InstanceMethod<&TunDevice::AddSpare>("addSpare"),
                           InstanceMethod<&TunDevice::SetLendMin>("setLendMin"),
                           InstanceAccessor<&TunDevice::GetName>("name"),
                           InstanceAccessor<&TunDevice::GetFd>("fd"),
                           InstanceAccessor<&TunDevice::GetArena>("arena"),
                           InstanceAccessor<&TunDevice::GetLengths>("lengths"),
                           InstanceAccessor<&TunDevice::GetWriteErrno>("writeErrno"),
                           InstanceAccessor<&TunDevice::GetClosed>("closed"),
                           InstanceAccessor<&TunDevice::GetVnetHdrLen>("vnetHdrLen"),
                           InstanceAccessor<&TunDevice::GetOffloads>("offloads"),
                           InstanceAccessor<&TunDevice::GetOffloadErrno>("offloadErrno"),
                           InstanceAccessor<&TunDevice::GetTap>("tap"),
                           InstanceAccessor<&TunDevice::GetConfigured>("configured"),
                       });
  }

  // new TunDevice(name, { mode: 'auto' | 'attach' | 'create', arenaBytes, maxBatch, maxRounds, offload, tap, multiQueue, netns, userns, configure })
  explicit TunDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunDevice>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      throw Napi::TypeError::New(env, "TunDevice(name, options?): name must be a string");
    }
    std::string name = info[0].As<Napi::String>().Utf8Value();
    std::string mode = "auto";
    size_t arenaBytes = kDefaultArenaBytes;
    uint32_t maxBatch = kDefaultMaxBatch;
    uint32_t maxRounds = kDefaultMaxRounds;
    bool vnetHdr = false;
    bool offload = false;
    bool tap = false;
    bool multiQueue = false;
    std::string netns;
    std::string userns;
    Napi::Object configure;
    bool haveConfigure = false;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Object o = info[1].As<Napi::Object>();
      // netns: the path of a network namespace the device is (to be) in.
      if (o.Has("netns") && o.Get("netns").IsString()) netns = o.Get("netns").As<Napi::String>().Utf8Value();
      // userns: the path of the user namespace that owns `netns` (rootless): the device is made by a fork()ed child that joined both.
      if (o.Has("userns") && o.Get("userns").IsString()) userns = o.Get("userns").As<Napi::String>().Utf8Value();
      // configure: { mtu, address, prefixLen, gateway } applied in the namespace by that child (what configureNetns does).
      if (o.Has("configure") && o.Get("configure").IsObject()) {
        configure = o.Get("configure").As<Napi::Object>();
        haveConfigure = true;
      }
      // tap: an Ethernet (TAP) device instead of an IP (TUN) one.
      if (o.Has("tap") && o.Get("tap").IsBoolean()) tap = o.Get("tap").As<Napi::Boolean>().Value();
      // multiQueue: IFF_MULTI_QUEUE — each open of the same name is one more queue of the device (one per worker thread).
      if (o.Has("multiQueue") && o.Get("multiQueue").IsBoolean()) multiQueue = o.Get("multiQueue").As<Napi::Boolean>().Value();
      // offload: open with IFF_VNET_HDR and ask for TUNSETOFFLOAD (checksum, TSO4, TSO6).
      if (o.Has("offload") && o.Get("offload").IsBoolean()) offload = vnetHdr = o.Get("offload").As<Napi::Boolean>().Value();
      if (o.Has("mode") && o.Get("mode").IsString()) mode = o.Get("mode").As<Napi::String>().Utf8Value();
      if (o.Has("arenaBytes") && o.Get("arenaBytes").IsNumber()) {
        double v = o.Get("arenaBytes").As<Napi::Number>().DoubleValue();
        if (v >= double(kReadSize) && v <= 256.0 * 1024 * 1024) arenaBytes = size_t(v);
      }
      if (o.Has("maxBatch") && o.Get("maxBatch").IsNumber()) {
        double v = o.Get("maxBatch").As<Napi::Number>().DoubleValue();
        if (v >= 1 && v <= 65536) maxBatch = uint32_t(v);
      }
      if (o.Has("maxRounds") && o.Get("maxRounds").IsNumber()) {
        double v = o.Get("maxRounds").As<Napi::Number>().DoubleValue();
        if (v >= 1 && v <= 1024) maxRounds = uint32_t(v);
      }
    }
    if (mode != "auto" && mode != "attach" && mode != "create") {
      throw Napi::TypeError::New(env, "TunDevice: options.mode must be 'auto', 'attach' or 'create'");
    }
    const std::string kind = tap ? "TAP" : "TUN";
    const short devFlag = (tap ? IFF_TAP : IFF_TUN) | (multiQueue ? IFF_MULTI_QUEUE : 0);
    if (name.size() >= IFNAMSIZ) {
      throw SysError(env, ENAMETOOLONG, "TUNSETIFF",
                     kind + " device name '" + name + "' is too long (at most " + std::to_string(IFNAMSIZ - 1) + " bytes)");
    }

    if (!userns.empty() && netns.empty()) {
      throw Napi::TypeError::New(env, "TunDevice: options.userns goes with options.netns (the network namespace that user namespace owns)");
    }
    if (haveConfigure && userns.empty()) {
      throw Napi::TypeError::New(env, "TunDevice: options.configure goes with options.userns (without it, call configureNetns)");
    }

    synack::DeviceSpec spec;
    strncpy(spec.name, name.c_str(), IFNAMSIZ - 1);
    spec.devFlag = devFlag;
    spec.vnetHdr = vnetHdr;
    spec.offload = offload;
    spec.mode = mode == "attach" ? synack::kModeAttach : mode == "create" ? synack::kModeCreate : synack::kModeAuto;
    synack::DeviceResult res;
    if (!userns.empty()) {
      // Rootless: a forked child joins the user namespace, then the network
      // namespace, makes (and configures) the device, and sends its fd back
      // (netns.cc, OpenInUserns).
      synack::NsConfig cfg;
      if (haveConfigure) cfg = ParseNsConfig(env, "TunDevice: options.configure", name, configure);
      OpenInUsernsPaths(env, userns, netns, spec, haveConfigure ? &cfg : nullptr, &res);
    } else if (netns.empty()) {
      synack::OpenDeviceHere(spec, &res);
    } else {
      // With `netns`, the open and the lookup happen in that namespace (see
      // InNetns); TUNSETIFF acts there too, as the fd's namespace is the one
      // it was opened in.
      NsResult r = InNetns(netns, [&](NsResult&) { synack::OpenDeviceHere(spec, &res); });
      if (r.err != 0) throw NetnsError(env, netns, r);
    }
    if (res.err != 0) throw DeviceError(env, res, DeviceWhat{name, tap, multiQueue, netns, userns});
    fd_ = res.fd;
    name_ = res.name;
    created_ = !res.exists;
    vnetHdrLen_ = res.vnetHdrLen;
    offloads_ = res.offloads;
    offloadErrno_ = res.offloadErrno;
    configured_ = res.configured;
    tap_ = tap;
    maxBatch_ = maxBatch;
    maxRounds_ = maxRounds;

    Napi::ArrayBuffer arena = Napi::ArrayBuffer::New(env, arenaBytes);
    arena_ = static_cast<uint8_t*>(arena.Data());
    arenaSize_ = arenaBytes;
    arenaRef_ = Napi::Persistent(arena.As<Napi::Object>());
    Napi::Uint32Array lens = Napi::Uint32Array::New(env, maxBatch);
    lens_ = lens.Data();
    lensRef_ = Napi::Persistent(lens.As<Napi::Object>());

    // The device does not keep the process alive unless ref()'d.
    synack::OpenPoll(env, poll_, fd_, this);
  }

  ~TunDevice() override { CloseNow(); }

 private:
  // start(onPackets(count, errno)): begin polling; the callback gets each batch.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) throw Napi::Error::New(env, "TunDevice.start: the device is closed");
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "TunDevice.start(callback)");
    onPackets_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!asyncContext_) asyncContext_ = new Napi::AsyncContext(env, "SynackTunRead", Value());
    if (!reading_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r != 0) throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(r));
      reading_ = true;
      if (!selfRef_) {
        selfRef_ = true;
        Napi::ObjectWrap<TunDevice>::Ref();  // no GC while polling
      }
    }
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  void StopPolling() {
    if (reading_ && poll_) uv_poll_stop(poll_);
    reading_ = false;
    if (selfRef_) {
      selfRef_ = false;
      Napi::ObjectWrap<TunDevice>::Unref();
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<TunDevice*>(handle->data);
    if (self) self->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      Deliver(env, 0, -status);  // libuv status is -errno
      return;
    }
    for (uint32_t round = 0; round < maxRounds_ && reading_ && fd_ >= 0; round++) {
      size_t off = 0;
      uint32_t n = 0;
      int err = 0;
      bool drained = false;
      bool sawLarge = false;
      while (n < maxBatch_ && arenaSize_ - off >= kReadSize) {
        // After a large packet, the next is read into a spare buffer (its
        // virtio_net_hdr still into the arena): see AddSpare.
        const bool spare = lendMin_ != 0 && largeMode_ && !spares_.empty();
        ssize_t r;
        if (spare) {
          struct iovec iov[2];
          int niov = 0;
          if (vnetHdrLen_ > 0) iov[niov++] = {arena_ + off, size_t(vnetHdrLen_)};
          iov[niov++] = {spares_.front().data, spares_.front().size};
          r = readv(fd_, iov, niov);
        } else {
          r = read(fd_, arena_ + off, kReadSize);
        }
        readCalls_++;
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            drained = true;
          } else {
            err = errno;
            readErrors_++;
          }
          break;
        }
        if (r == 0) {
          emptyReads_++;
          drained = true;
          break;
        }
        const size_t packet = size_t(r) > size_t(vnetHdrLen_) ? size_t(r) - size_t(vnetHdrLen_) : 0;
        if (lendMin_ != 0 && packet >= lendMin_) sawLarge = true;
        if (spare && packet >= lendMin_) {
          // It stays there: flagged, and only its header takes arena room.
          lens_[n++] = uint32_t(r) | kInSpare;
          off += size_t(vnetHdrLen_);
          spares_.pop_front();
          directReads_++;
        } else {
          // A small packet among large ones goes where any packet goes.
          if (spare) memcpy(arena_ + off + vnetHdrLen_, spares_.front().data, packet);
          else if (lendMin_ != 0 && packet >= lendMin_) largeMode_ = true;
          lens_[n++] = uint32_t(r);
          off += size_t(r);
        }
        packetsIn_++;
        bytesIn_ += uint64_t(r);
      }
      // A batch without a large packet ends the run.
      if (!sawLarge) largeMode_ = false;
      if (n == 0 && err == 0) break;
      batches_++;
      if (!Deliver(env, n, err)) return;
      if (err != 0 || drained) break;
    }
  }

  // Calls JS; false when the device went away meanwhile.
  bool Deliver(Napi::Env env, uint32_t n, int err) {
    if (onPackets_.IsEmpty() || !asyncContext_) return false;
    bool ok = true;
    inCallback_ = true;
    try {
      onPackets_.MakeCallback(Value(), {Napi::Number::New(env, n), Napi::Number::New(env, err)}, *asyncContext_);
    } catch (const Napi::Error& e) {
      // Nothing on the C++ side can handle it: hand it to process 'uncaughtException'.
      napi_fatal_exception(env, e.Value());
      ok = false;
    }
    inCallback_ = false;
    if (fd_ < 0) ReleaseCallback();  // closed from inside the callback
    return ok && reading_ && fd_ >= 0;
  }

  static bool BytesOf(Napi::Value v, const uint8_t** data, size_t* len) {
    return synack::Uint8Bytes(v.Env(), v, data, len);
  }

  // write(packet): bytes written, or -errno.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint8_t* p = nullptr;
    size_t len = 0;
    if (info.Length() < 1 || !BytesOf(info[0], &p, &len)) throw Napi::TypeError::New(env, "TunDevice.write(Uint8Array)");
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    ssize_t r = WritePacket(p, len);
    if (r < 0) {
      writeErrno_ = errno;
      writeErrors_++;
      return Napi::Number::New(env, -errno);
    }
    packetsOut_++;
    bytesOut_ += uint64_t(r);
    return Napi::Number::New(env, double(r));
  }

  // One packet; in vnet mode behind an all-zero virtio_net_hdr (no offload
  // asked for this packet). Returns the packet bytes written, or -1 (errno).
  ssize_t WritePacket(const uint8_t* p, size_t len) {
    ssize_t r;
    if (vnetHdrLen_ == 0) {
      do {
        r = write(fd_, p, len);
      } while (r < 0 && errno == EINTR);
      return r;
    }
    struct iovec iov[2] = {{const_cast<uint8_t*>(kZeroVnetHdr), size_t(vnetHdrLen_)}, {const_cast<uint8_t*>(p), len}};
    do {
      r = writev(fd_, iov, 2);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? r : r - vnetHdrLen_;
  }

  // writeChains(parts[], counts[], start = 0, end = counts.length): chain i
  // is the next counts[i] parts of `parts`, written as ONE packet with one
  // writev() (in vnet mode the first part is the virtio_net_hdr: the caller
  // builds it). Returns how many chains were written from `start` on; if
  // fewer than asked, `writeErrno` says why. The parts of chains before
  // `start` are skipped.
  Napi::Value WriteChains(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray()) {
      throw Napi::TypeError::New(env, "TunDevice.writeChains(Uint8Array[], number[])");
    }
    Napi::Array parts = info[0].As<Napi::Array>();
    Napi::Array counts = info[1].As<Napi::Array>();
    uint32_t nParts = parts.Length();
    uint32_t len = counts.Length();
    uint32_t start = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
    uint32_t end = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : len;
    if (end > len) end = len;
    writeErrno_ = 0;
    if (fd_ < 0) {
      writeErrno_ = EBADF;
      return Napi::Number::New(env, 0);
    }
    uint32_t pi = 0;
    for (uint32_t i = 0; i < start && i < len; i++) pi += counts.Get(i).As<Napi::Number>().Uint32Value();
    uint32_t done = 0;
    struct iovec iov[64];
    for (uint32_t i = start; i < end; i++) {
      uint32_t n = counts.Get(i).As<Napi::Number>().Uint32Value();
      if (n == 0 || n > 64 || pi + n > nParts) throw Napi::RangeError::New(env, "TunDevice.writeChains: a chain has 1..64 parts within parts[]");
      size_t total = 0;
      for (uint32_t k = 0; k < n; k++) {
        const uint8_t* p = nullptr;
        size_t plen = 0;
        if (!BytesOf(parts.Get(pi + k), &p, &plen)) throw Napi::TypeError::New(env, "TunDevice.writeChains: every part must be a Uint8Array");
        iov[k].iov_base = const_cast<uint8_t*>(p);
        iov[k].iov_len = plen;
        total += plen;
      }
      pi += n;
      ssize_t r;
      do {
        r = writev(fd_, iov, int(n));
      } while (r < 0 && errno == EINTR);
      if (r < 0) {
        writeErrno_ = errno;
        writeErrors_++;
        break;
      }
      packetsOut_++;
      bytesOut_ += uint64_t(r) - uint64_t(vnetHdrLen_);
      (void)total;
      done++;
    }
    return Napi::Number::New(env, done);
  }

  // writeBatch(packets[], start = 0, end = packets.length): how many were
  // written from `start` on; if fewer than asked, `writeErrno` says why.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "TunDevice.writeBatch(Uint8Array[])");
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t len = arr.Length();
    uint32_t start = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    uint32_t end = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : len;
    if (end > len) end = len;
    if (fd_ < 0) {
      writeErrno_ = EBADF;
      return Napi::Number::New(env, 0);
    }
    uint32_t done = 0;
    writeErrno_ = 0;
    for (uint32_t i = start; i < end; i++) {
      const uint8_t* p = nullptr;
      size_t plen = 0;
      if (!BytesOf(arr.Get(i), &p, &plen)) throw Napi::TypeError::New(env, "TunDevice.writeBatch: every packet must be a Uint8Array");
      ssize_t r = WritePacket(p, plen);
      if (r < 0) {
        writeErrno_ = errno;
        writeErrors_++;
        break;
      }
      packetsOut_++;
      bytesOut_ += uint64_t(r);
      done++;
    }
    return Napi::Number::New(env, done);
  }

  // addSpare(ab): a buffer of at least readSize bytes for the device to read
  // one large packet into, so that JavaScript need not copy it out of the
  // arena (a memmove of up to 64 KiB per packet, a quarter of the gateway's
  // user time in a guest → host transfer). Spares are used in the order
  // given, each at most once: a packet read into one is flagged in
  // `lengths` (bit 31; the packet starts at the spare's offset 0, its
  // virtio_net_hdr stays in the arena, which advances by the header only).
  // Spares are read into once a packet of setLendMin's size or more came
  // (large packets come in runs: a bulk transfer's segments), until a batch
  // has none; a spare is kept for the next read when the packet turns out
  // smaller (then copied into the arena). Returns the spares held.
  Napi::Value AddSpare(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "TunDevice.addSpare(ArrayBuffer)");
    Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
    if (ab.ByteLength() < kReadSize) throw Napi::RangeError::New(env, "TunDevice.addSpare: a spare must hold readSize bytes");
    if (fd_ >= 0) spares_.push_back(Spare{Napi::Persistent(ab), static_cast<uint8_t*>(ab.Data()), ab.ByteLength()});
    return Napi::Number::New(env, double(spares_.size()));
  }

  // setLendMin(n): packets of n bytes or more are read into spares (0: never).
  Napi::Value SetLendMin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "TunDevice.setLendMin(bytes)");
    double v = info[0].As<Napi::Number>().DoubleValue();
    lendMin_ = v >= 1 && v <= double(kReadSize) ? size_t(v) : 0;
    if (lendMin_ == 0) largeMode_ = false;
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNow();
    return info.Env().Undefined();
  }

  void CloseNow() {
    if (reading_) StopPolling();
    synack::ClosePolledFd(poll_, fd_);
    spares_.clear();
    if (!inCallback_) ReleaseCallback();
  }

  void ReleaseCallback() {
    if (!onPackets_.IsEmpty()) onPackets_.Reset();
    if (asyncContext_) {
      delete asyncContext_;
      asyncContext_ = nullptr;
    }
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) { return synack::RefPoll(poll_, info); }

  Napi::Value Unref(const Napi::CallbackInfo& info) { return synack::UnrefPoll(poll_, info); }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("readCalls", Napi::Number::New(env, double(readCalls_)));
    o.Set("batches", Napi::Number::New(env, double(batches_)));
    o.Set("packetsIn", Napi::Number::New(env, double(packetsIn_)));
    o.Set("bytesIn", Napi::Number::New(env, double(bytesIn_)));
    o.Set("readErrors", Napi::Number::New(env, double(readErrors_)));
    o.Set("emptyReads", Napi::Number::New(env, double(emptyReads_)));
    o.Set("directReads", Napi::Number::New(env, double(directReads_)));
    o.Set("packetsOut", Napi::Number::New(env, double(packetsOut_)));
    o.Set("bytesOut", Napi::Number::New(env, double(bytesOut_)));
    o.Set("writeErrors", Napi::Number::New(env, double(writeErrors_)));
    o.Set("created", Napi::Boolean::New(env, created_));
    return o;
  }

  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetArena(const Napi::CallbackInfo& info) { return arenaRef_.IsEmpty() ? info.Env().Null() : arenaRef_.Value(); }
  Napi::Value GetLengths(const Napi::CallbackInfo& info) { return lensRef_.IsEmpty() ? info.Env().Null() : lensRef_.Value(); }
  Napi::Value GetWriteErrno(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), writeErrno_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }
  Napi::Value GetVnetHdrLen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), vnetHdrLen_); }
  Napi::Value GetOffloads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), offloads_); }
  Napi::Value GetOffloadErrno(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), offloadErrno_); }
  Napi::Value GetTap(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), tap_); }
  Napi::Value GetConfigured(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), configured_); }

  int fd_ = -1;
  std::string name_;
  bool created_ = false;
  bool tap_ = false;
  bool configured_ = false;
  uv_poll_t* poll_ = nullptr;
  bool reading_ = false;
  bool selfRef_ = false;
  bool inCallback_ = false;
  Napi::FunctionReference onPackets_;
  Napi::AsyncContext* asyncContext_ = nullptr;
  Napi::ObjectReference arenaRef_;
  Napi::ObjectReference lensRef_;
  uint8_t* arena_ = nullptr;
  size_t arenaSize_ = 0;
  uint32_t* lens_ = nullptr;
  uint32_t maxBatch_ = kDefaultMaxBatch;
  uint32_t maxRounds_ = kDefaultMaxRounds;
  int writeErrno_ = 0;
  int vnetHdrLen_ = 0;
  unsigned offloads_ = 0;
  int offloadErrno_ = 0;
  // AddSpare: buffers for large packets, used front first.
  struct Spare {
    Napi::Reference<Napi::ArrayBuffer> ref;
    uint8_t* data;
    size_t size;
  };
  std::deque<Spare> spares_;
  size_t lendMin_ = 0;
  bool largeMode_ = false;
  uint64_t readCalls_ = 0, batches_ = 0, packetsIn_ = 0, bytesIn_ = 0, readErrors_ = 0, emptyReads_ = 0, directReads_ = 0;
  uint64_t packetsOut_ = 0, bytesOut_ = 0, writeErrors_ = 0;
};

// ---- interface configuration (ioctl on an AF_INET socket) --------------------

int IfSocket() { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

void FillName(Napi::Env env, struct ifreq* ifr, const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) throw Napi::TypeError::New(env, "bad interface name '" + name + "'");
  memset(ifr, 0, sizeof *ifr);
  strncpy(ifr->ifr_name, name.c_str(), IFNAMSIZ - 1);
}

Napi::Error IfError(Napi::Env env, int e, const char* syscall, const std::string& name, const std::string& what) {
  if (e == ENODEV || e == ENXIO) return SysError(env, e, syscall, "no such device: " + name);
  if (e == EPERM || e == EACCES) return SysError(env, e, syscall, what + " " + name + ": operation not permitted (needs CAP_NET_ADMIN)");
  return SysError(env, e, syscall, what + " " + name + ": " + Strerror(e));
}

// linkInfo(name) → { index, mtu, up }
Napi::Value LinkInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString().Utf8Value();
  struct ifreq ifr;
  FillName(env, &ifr, name);
  int s = IfSocket();
  if (s < 0) throw SysError(env, errno, "socket", "socket: " + Strerror(errno));
  if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
    int e = errno;
    close(s);
    throw IfError(env, e, "SIOCGIFMTU", name, "reading the MTU of");
  }
  int mtu = ifr.ifr_mtu;
  FillName(env, &ifr, name);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int e = errno;
    close(s);
    throw IfError(env, e, "SIOCGIFFLAGS", name, "reading the flags of");
  }
  close(s);
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", Napi::Number::New(env, if_nametoindex(name.c_str())));
  o.Set("mtu", Napi::Number::New(env, mtu));
  o.Set("up", Napi::Boolean::New(env, (ifr.ifr_flags & IFF_UP) != 0));
  return o;
}

// setLinkMtu(name, mtu)
Napi::Value SetLinkMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString().Utf8Value();
  int mtu = info[1].ToNumber().Int32Value();
  struct ifreq ifr;
  FillName(env, &ifr, name);
  ifr.ifr_mtu = mtu;
  int s = IfSocket();
  if (s < 0) throw SysError(env, errno, "socket", "socket: " + Strerror(errno));
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
    int e = errno;
    close(s);
    throw IfError(env, e, "SIOCSIFMTU", name, "setting MTU " + std::to_string(mtu) + " on");
  }
  close(s);
  return env.Undefined();
}

// setLinkUp(name, up)
Napi::Value SetLinkUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString().Utf8Value();
  bool up = info[1].ToBoolean().Value();
  struct ifreq ifr;
  FillName(env, &ifr, name);
  int s = IfSocket();
  if (s < 0) throw SysError(env, errno, "socket", "socket: " + Strerror(errno));
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int e = errno;
    close(s);
    throw IfError(env, e, "SIOCGIFFLAGS", name, "reading the flags of");
  }
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
    int e = errno;
    close(s);
    throw IfError(env, e, "SIOCSIFFLAGS", name, up ? "bringing up" : "bringing down");
  }
  close(s);
  return env.Undefined();
}


// configureNetns(nsPath, name, { mtu, address, prefixLen, gateway }): inside
// the network namespace at nsPath, what `slirp4netns --configure` does: lo
// up; `name` gets the MTU and the IPv4 address/prefixLen and goes up; a
// default route via `gateway`. By ioctl on an AF_INET socket made in the
// namespace (SIOCSIFMTU, SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFFLAGS,
// SIOCADDRT), on a short-lived thread (InNetns).
Napi::Value ConfigureNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject()) {
    throw Napi::TypeError::New(env, "configureNetns(nsPath, name, { mtu, address, prefixLen, gateway })");
  }
  std::string nsPath = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  synack::NsConfig cfg = ParseNsConfig(env, "configureNetns", name, info[2].As<Napi::Object>());
  NsResult r = InNetns(nsPath, [&](NsResult& res) {
    int err = 0;
    const char* step = "";
    if (!synack::ConfigureHere(cfg, &step, &err)) {
      res.err = err;
      res.step = step;
    }
  });
  if (r.err != 0) throw NetnsError(env, nsPath, r);
  return env.Undefined();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("TunDevice", TunDevice::Init(env));
  exports.Set("IcmpSocket", InitIcmpSocket(env));
  exports.Set("HostSockets", InitHostSockets(env));
  exports.Set("trimMemory", InitTrimMemory(env));
  exports.Set("execve", InitExecve(env));
  exports.Set("linkInfo", Napi::Function::New<LinkInfo>(env, "linkInfo"));
  exports.Set("setLinkMtu", Napi::Function::New<SetLinkMtu>(env, "setLinkMtu"));
  exports.Set("setLinkUp", Napi::Function::New<SetLinkUp>(env, "setLinkUp"));
  exports.Set("configureNetns", Napi::Function::New<ConfigureNetns>(env, "configureNetns"));
  // TunDevice takes { userns, configure } (the rootless path, netns.cc).
  exports.Set("usernsSupported", Napi::Boolean::New(env, true));
  exports.Set("readSize", Napi::Number::New(env, double(kReadSize)));
  exports.Set("vnetHdrLen", Napi::Number::New(env, double(kVnetHdrLen)));
  exports.Set("TUN_F_CSUM", Napi::Number::New(env, double(TUN_F_CSUM)));
  exports.Set("TUN_F_TSO4", Napi::Number::New(env, double(TUN_F_TSO4)));
  exports.Set("TUN_F_TSO6", Napi::Number::New(env, double(TUN_F_TSO6)));
  return exports;
}

}  // namespace

NODE_API_MODULE(synack_tun, InitModule)
