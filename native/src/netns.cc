// Opening and configuring a TUN/TAP device in a namespace (see netns.h).
//
// ---- user namespaces (the rootless case) ----------------------------------
//
// A rootless container's network namespace (rootlesskit, podman) is owned
// by a user namespace: joining it (setns CLONE_NEWNET) needs CAP_SYS_ADMIN
// in that user namespace, and configuring its devices CAP_NET_ADMIN there.
// An unprivileged process has them once it has joined the user namespace
// (user_namespaces(7): a process whose effective user ID owns a user
// namespace has every capability in it, and setns(2) into it grants them)
// — but setns(CLONE_NEWUSER) is refused with EINVAL to a process with more
// than one thread (the kernel's userns_install checks that the mm has one
// user and the fs_struct is not shared), and Node always has several. So,
// as slirp4netns does, a fork()ed child — single-threaded — joins the user
// namespace and then the network namespace, opens /dev/net/tun (the device
// is bound to the namespace the fd was opened in, see tun.cc), makes the
// device, configures it, and sends the fd back over a socketpair as
// SCM_RIGHTS ancillary data (unix(7)), together with a fixed-size report of
// what it did or which step failed with which errno. The parent reaps it.
//
// The child of a multithreaded parent may only rely on what survives fork:
// it makes system calls (open, setns, ioctl, socket, sendmsg), touches only
// memory prepared before the fork, throws nothing and ends with _exit. All
// signals are blocked around fork() and stay blocked in the child: a signal
// must not run one of Node's handlers (libuv's writes to its signal pipe,
// shared with the parent) in it.
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/route.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace synack {

namespace {

constexpr int kVnetHdrLen = 10;
constexpr unsigned kOffloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

void Fail(DeviceResult* res, const char* step, int err) {
  res->err = err;
  strncpy(res->step, step, sizeof res->step - 1);
  res->step[sizeof res->step - 1] = 0;
}

// Names are NUL-terminated arrays of IFNAMSIZ bytes on both sides.
void CopyIfName(char (&dst)[IFNAMSIZ], const char (&src)[IFNAMSIZ]) {
  memcpy(dst, src, IFNAMSIZ);
  dst[IFNAMSIZ - 1] = 0;
}

// Whether an interface of that name exists in the thread's network
// namespace (if_nametoindex's ioctl, without the library call).
bool IfExistsHere(const char (&name)[IFNAMSIZ]) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  CopyIfName(ifr.ifr_name, name);
  bool ok = ioctl(s, SIOCGIFINDEX, &ifr) == 0;
  close(s);
  return ok;
}

void SetSin(struct sockaddr* sa, struct in_addr a) {
  struct sockaddr_in* p = reinterpret_cast<struct sockaddr_in*>(sa);
  memset(p, 0, sizeof *p);
  p->sin_family = AF_INET;
  p->sin_addr = a;
}

bool Up(int s, const char* dev) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) return false;
  ifr.ifr_flags |= IFF_UP;
  return ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
}

long MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return long(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The child: never returns.
[[noreturn]] void ChildMain(int sock, int usernsFd, int netnsFd, bool joinUserns, const DeviceSpec& spec, const NsConfig* cfg) {
  DeviceResult r;
  // Do not outlive the parent (it waits for this child; if it is killed meanwhile, so is this).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (joinUserns && setns(usernsFd, CLONE_NEWUSER) < 0) {
    Fail(&r, "setns user", errno);
  } else if (setns(netnsFd, CLONE_NEWNET) < 0) {
    Fail(&r, "setns net", errno);
  } else {
    OpenDeviceHere(spec, &r);
    if (r.err == 0 && cfg != nullptr) {
      NsConfig c = *cfg;
      CopyIfName(c.name, r.name);  // the kernel's name, for a pattern like tap%d
      const char* step = "";
      int err = 0;
      if (ConfigureHere(c, &step, &err)) {
        r.configured = true;
      } else {
        close(r.fd);  // the device goes with its only fd
        r.fd = -1;
        Fail(&r, step, err);
      }
    }
  }
  struct iovec iov = {&r, sizeof r};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  if (r.fd >= 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &r.fd, sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  _exit(n == ssize_t(sizeof r) ? 0 : 1);
}

}  // namespace

void OpenDeviceHere(const DeviceSpec& spec, DeviceResult* res) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Fail(res, "open", errno);
  res->exists = IfExistsHere(spec.name);
  if (spec.mode == kModeAttach && !res->exists) {
    close(fd);
    return Fail(res, "attach", ENODEV);
  }
  if (spec.mode == kModeCreate && res->exists) {
    close(fd);
    return Fail(res, "create", EEXIST);
  }
  bool vnetHdr = spec.vnetHdr;
  bool offload = spec.offload;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = spec.devFlag | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0);
  CopyIfName(ifr.ifr_name, spec.name);
  int setiff = ioctl(fd, TUNSETIFF, &ifr);
  if (setiff < 0 && errno == EINVAL && vnetHdr) {
    // A kernel without IFF_VNET_HDR: plain mode.
    res->offloadErrno = EINVAL;
    vnetHdr = offload = false;
    ifr.ifr_flags = spec.devFlag | IFF_NO_PI;
    setiff = ioctl(fd, TUNSETIFF, &ifr);
  }
  if (setiff < 0) {
    int e = errno;
    close(fd);
    return Fail(res, "TUNSETIFF", e);
  }
  if (vnetHdr) {
    int hdrLen = kVnetHdrLen;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdrLen) < 0) {
      // Keep the kernel's default header size only if it is ours (10).
      res->offloadErrno = errno;
    }
    res->vnetHdrLen = kVnetHdrLen;
    if (offload) {
      // The kernel may refuse (EINVAL on an old kernel or an unknown bit):
      // then the device carries plain packets behind an all-zero header.
      if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)kOffloads) == 0) {
        res->offloads = kOffloads;
      } else if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) == 0) {
        res->offloadErrno = errno;
        res->offloads = TUN_F_CSUM;
      } else {
        res->offloadErrno = errno;
        ioctl(fd, TUNSETOFFLOAD, 0UL);
      }
    }
  }
  CopyIfName(res->name, ifr.ifr_name);
  res->fd = fd;
}

bool ConfigureHere(const NsConfig& cfg, const char** step, int* err) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *err = errno;
    *step = "socket";
    return false;
  }
  auto fail = [&](const char* what) {
    *err = errno;
    *step = what;
    close(s);
    return false;
  };
  if (!Up(s, "lo")) return fail("SIOCSIFFLAGS lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  CopyIfName(ifr.ifr_name, cfg.name);
  ifr.ifr_mtu = cfg.mtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) return fail("SIOCSIFMTU");
  SetSin(&ifr.ifr_addr, cfg.addr);
  if (ioctl(s, SIOCSIFADDR, &ifr) < 0) return fail("SIOCSIFADDR");
  SetSin(&ifr.ifr_netmask, cfg.mask);
  if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) return fail("SIOCSIFNETMASK");
  if (!Up(s, cfg.name)) return fail("SIOCSIFFLAGS");
  if (cfg.hasGateway) {
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct in_addr any;
    any.s_addr = 0;
    SetSin(&rt.rt_dst, any);
    SetSin(&rt.rt_genmask, any);
    SetSin(&rt.rt_gateway, cfg.gateway);
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    char dev[IFNAMSIZ];
    CopyIfName(dev, cfg.name);
    rt.rt_dev = dev;
    if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST) return fail("SIOCADDRT");
  }
  close(s);
  return true;
}

void OpenInUserns(int usernsFd, int netnsFd, bool joinUserns, const DeviceSpec& spec, const NsConfig* cfg, int timeoutMs, DeviceResult* res) {
  int sv[2];
  // SOCK_SEQPACKET: the report arrives whole or not at all.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Fail(res, "socketpair", errno);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    ChildMain(sv[1], usernsFd, netnsFd, joinUserns, spec, cfg);
  }
  int forkErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return Fail(res, "fork", forkErr);
  }

  // The report: the child's DeviceResult, and the fd when it has one. EOF
  // (the child ended without sending, e.g. killed) and a timeout are
  // failures of their own.
  DeviceResult got;
  bool have = false;
  bool timedOut = false;
  int recvErr = 0;
  int fd = -1;
  long deadline = MonotonicMs() + timeoutMs;
  for (;;) {
    long left = deadline - MonotonicMs();
    if (left <= 0) {
      timedOut = true;
      break;
    }
    struct pollfd p = {sv[0], POLLIN, 0};
    int pr = poll(&p, 1, int(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      recvErr = errno;
      break;
    }
    if (pr == 0) continue;  // the deadline is checked above
    struct iovec iov = {&got, sizeof got};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      recvErr = errno;
      break;
    }
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&fd, CMSG_DATA(c), sizeof(int));
    }
    have = n == ssize_t(sizeof got) && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0;
    if (n > 0 && !have) recvErr = EBADMSG;
    break;  // a report, or EOF (n == 0)
  }
  if (timedOut) kill(pid, SIGKILL);
  close(sv[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (have && (got.err != 0 || fd >= 0)) {
    *res = got;
    res->fd = got.err == 0 ? fd : -1;
    if (got.err != 0 && fd >= 0) close(fd);
    return;
  }
  if (fd >= 0) close(fd);
  if (timedOut) return Fail(res, "timeout", ETIMEDOUT);
  if (recvErr != 0) return Fail(res, "recvmsg", recvErr);
  if (have) return Fail(res, "recvmsg", EBADMSG);  // success without an fd
  res->err = status;  // a wait status, not an errno (see netns.h)
  Fail(res, "child", status);
}

}  // namespace synack
