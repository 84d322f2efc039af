// Opening and configuring a TUN/TAP device, written as plain system calls
// that report failures in a struct (no exceptions, no N-API, no allocation),
// so that the same code runs on Node's main thread, on a short-lived thread
// that joined a network namespace (tun.cc, InNetns), and in a fork()ed child
// that joined a user namespace and then a network namespace (OpenInUserns,
// netns.cc) — the rootless case.
#pragma once

#include <net/if.h>
#include <netinet/in.h>

namespace synack {

// What to open: the device name and the TUNSETIFF flags.
struct DeviceSpec {
  char name[IFNAMSIZ] = {0};
  short devFlag = 0;     // IFF_TUN or IFF_TAP, | IFF_MULTI_QUEUE
  bool vnetHdr = false;  // IFF_VNET_HDR and TUNSETVNETHDRSZ
  bool offload = false;  // TUNSETOFFLOAD
  int mode = 0;          // kModeAuto, kModeAttach, kModeCreate
};
constexpr int kModeAuto = 0;
constexpr int kModeAttach = 1;
constexpr int kModeCreate = 2;

// What happened. On success `fd` is the device (O_NONBLOCK, O_CLOEXEC) and
// `err` is 0; otherwise `step` names the call that failed and `err` its
// errno. Steps: "open" (/dev/net/tun), "attach" (mode attach, no such
// device: ENODEV), "create" (mode create, it exists: EEXIST), "TUNSETIFF";
// configuring (ConfigureHere): "socket", "SIOCSIFFLAGS lo", "SIOCSIFMTU",
// "SIOCSIFADDR", "SIOCSIFNETMASK", "SIOCSIFFLAGS", "SIOCADDRT"; in
// OpenInUserns also "socketpair", "fork", "setns user", "setns net",
// "sendmsg", "recvmsg", "timeout", "child" (the helper ended without a
// report: `err` holds its wait status).
struct DeviceResult {
  int fd = -1;
  int err = 0;
  char step[24] = {0};
  bool exists = false;  // the device existed before (attach, not create)
  char name[IFNAMSIZ] = {0};  // as the kernel named it
  int vnetHdrLen = 0;
  unsigned offloads = 0;
  int offloadErrno = 0;
  bool configured = false;
};

// The IPv4 configuration slirp4netns --configure gives the guest's device.
struct NsConfig {
  char name[IFNAMSIZ] = {0};
  int mtu = 1500;
  struct in_addr addr{};
  struct in_addr mask{};
  struct in_addr gateway{};
  bool hasGateway = false;
};

// In the calling thread's network namespace: open /dev/net/tun, check the
// mode, TUNSETIFF, and the virtio_net_hdr / offload ioctls.
void OpenDeviceHere(const DeviceSpec& spec, DeviceResult* res);

// In the calling thread's network namespace: lo up; the device gets the MTU,
// the address and netmask and goes up; a default route via the gateway.
// False on failure, with `*step` and `*err` set.
bool ConfigureHere(const NsConfig& cfg, const char** step, int* err);

// The rootless path: a fork()ed child (single-threaded, so setns(2) may
// change its user namespace) joins the user namespace `usernsFd` (unless it
// is this process's own), then the network namespace `netnsFd`, does
// OpenDeviceHere and, when `cfg` is given, ConfigureHere there, and sends
// the device's fd back over a socketpair (SCM_RIGHTS) with its report. The
// caller keeps ownership of both namespace fds. Blocks until the child is
// done (at most `timeoutMs`) and reaped.
void OpenInUserns(int usernsFd, int netnsFd, bool joinUserns, const DeviceSpec& spec, const NsConfig* cfg, int timeoutMs, DeviceResult* res);

}  // namespace synack
