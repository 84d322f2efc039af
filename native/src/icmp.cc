// synack-tun: unprivileged ICMP echo ("ping") sockets for the gateway's
// echo relay (src/gateway/echo-relay.ts).
//
// Linux lets a process whose group is inside net.ipv4.ping_group_range
// open socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and socket(AF_INET6,
// SOCK_DGRAM, IPPROTO_ICMPV6) without CAP_NET_RAW (net/ipv4/ping.c), as
// slirp4netns (libslirp ip_icmp.c) and pasta (icmp.c) do. Each message
// written must start with an echo request header (type 8 / 128, code 0);
// the kernel fills in the checksum and REPLACES the identifier with the
// socket's own (its "port", chosen at the first send or by bind), and only
// echo replies carrying that identifier are read back — the ICMP header
// (with that identifier) and the data, no IP header. So one socket per
// guest echo flow, and the identifier is mapped back in JS.
//
// Reading is as the TUN device's: a uv_poll handle on the non-blocking fd;
// when readable, recvmsg() until EAGAIN (at most 64 per wake-up), and JS is
// called once per message with (data, from, ttl, -1, -1) — `ttl` from
// IP_RECVTTL / IPV6_RECVHOPLIMIT, -1 when the kernel gave none.
//
// ICMP errors about the requests (IP_RECVERR / IPV6_RECVERR): a router's
// Time Exceeded or Destination Unreachable is queued on the socket's error
// queue with the request it quotes; recvmsg(MSG_ERRQUEUE) reads it, and JS
// gets (the request as sent: ICMP header and data, the offender's address,
// -1, ICMP type, code) — ee_type / ee_code of the sock_extended_err.
//
// Errors carry `code` (EACCES when ping_group_range excludes us,
// EAFNOSUPPORT, EPROTONOSUPPORT, EMFILE, …), `errno` and `syscall`.

#include <napi.h>
#include <uv.h>

#include "polled-fd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

const char* IcmpErrnoName(int e) {
  switch (e) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EADDRINUSE: return "EADDRINUSE";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EMSGSIZE: return "EMSGSIZE";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    default: return "EUNKNOWN";
  }
}

Napi::Error IcmpSysError(Napi::Env env, int err, const char* syscall, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, IcmpErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

constexpr size_t kMaxMessage = 65535;
constexpr int kMaxPerWake = 64;

class IcmpSocket : public Napi::ObjectWrap<IcmpSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "IcmpSocket",
                       {
                           InstanceMethod<&IcmpSocket::Start>("start"),
                           InstanceMethod<&IcmpSocket::Send>("send"),
                           InstanceMethod<&IcmpSocket::Bind>("bind"),
                           InstanceMethod<&IcmpSocket::Close>("close"),
                           InstanceMethod<&IcmpSocket::Ref>("ref"),
                           InstanceMethod<&IcmpSocket::Unref>("unref"),
                           InstanceAccessor<&IcmpSocket::GetIdent>("ident"),
                           InstanceAccessor<&IcmpSocket::GetFamily>("family"),
                           InstanceAccessor<&IcmpSocket::GetClosed>("closed"),
                       });
  }

  // new IcmpSocket(4 | 6)
  explicit IcmpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IcmpSocket>(info) {
    Napi::Env env = info.Env();
    int family = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    if (family != 4 && family != 6) throw Napi::TypeError::New(env, "IcmpSocket(family): family must be 4 or 6");
    v6_ = family == 6;
    int fd = socket(v6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, v6_ ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
    if (fd < 0) {
      int e = errno;
      throw IcmpSysError(env, e, "socket",
                         std::string("cannot open an ICMP") + (v6_ ? "v6" : "") + " echo socket" +
                             (e == EACCES ? " (this group is outside net.ipv4.ping_group_range)" : ""));
    }
    int on = 1;
    // The TTL / hop limit of each reply, to hand on to the guest.
    if (v6_) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    } else {
      setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof on);
      setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    }
    fd_ = fd;
    buf_.resize(kMaxMessage);
    synack::OpenPoll(env, poll_, fd_, this);
  }

  ~IcmpSocket() override { CloseNow(); }

 private:
  // start(onMessage(data: Buffer, from: string, ttl: number))
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) throw Napi::Error::New(env, "IcmpSocket.start: the socket is closed");
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "IcmpSocket.start(callback)");
    onMessage_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!asyncContext_) asyncContext_ = new Napi::AsyncContext(env, "SynackIcmpRead", Value());
    if (!reading_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r != 0) throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(r));
      reading_ = true;
      Napi::ObjectWrap<IcmpSocket>::Ref();  // no GC while polling
    }
    return env.Undefined();
  }

  // bind(ident): asks for this identifier (the kernel's "port"); 0 or -errno (EADDRINUSE when taken).
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    uint16_t ident = uint16_t(info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0);
    int r;
    if (v6_) {
      struct sockaddr_in6 a;
      memset(&a, 0, sizeof a);
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(ident);
      r = bind(fd_, reinterpret_cast<struct sockaddr*>(&a), sizeof a);
    } else {
      struct sockaddr_in a;
      memset(&a, 0, sizeof a);
      a.sin_family = AF_INET;
      a.sin_port = htons(ident);
      r = bind(fd_, reinterpret_cast<struct sockaddr*>(&a), sizeof a);
    }
    return Napi::Number::New(env, r < 0 ? -errno : 0);
  }

  // send(dst: string, ident, seq, data: Uint8Array, ttl?: number): bytes written or -errno.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsTypedArray()) {
      throw Napi::TypeError::New(env, "IcmpSocket.send(dst, ident, seq, data: Uint8Array, ttl?)");
    }
    if (fd_ < 0) return Napi::Number::New(env, -EBADF);
    std::string dst = info[0].As<Napi::String>().Utf8Value();
    uint16_t ident = uint16_t(info[1].As<Napi::Number>().Uint32Value());
    uint16_t seq = uint16_t(info[2].As<Napi::Number>().Uint32Value());
    Napi::Uint8Array data = info[3].As<Napi::Uint8Array>();
    int ttl = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : -1;
    if (data.ByteLength() > kMaxMessage - 8) return Napi::Number::New(env, -EMSGSIZE);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (v6_) {
      auto* a = reinterpret_cast<struct sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      if (inet_pton(AF_INET6, dst.c_str(), &a->sin6_addr) != 1) throw Napi::TypeError::New(env, "IcmpSocket.send: not an IPv6 address: " + dst);
      sl = sizeof *a;
    } else {
      auto* a = reinterpret_cast<struct sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      if (inet_pton(AF_INET, dst.c_str(), &a->sin_addr) != 1) throw Napi::TypeError::New(env, "IcmpSocket.send: not an IPv4 address: " + dst);
      sl = sizeof *a;
    }
    if (ttl >= 1 && ttl <= 255 && ttl != lastTtl_) {
      if (v6_) setsockopt(fd_, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
      else setsockopt(fd_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
      lastTtl_ = ttl;
    }
    // The echo request header: type, code, checksum (the kernel's), identifier (replaced by the kernel), sequence number.
    uint8_t hdr[8] = {uint8_t(v6_ ? 128 : 8), 0, 0, 0, uint8_t(ident >> 8), uint8_t(ident), uint8_t(seq >> 8), uint8_t(seq)};
    struct iovec iov[2];
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof hdr;
    iov[1].iov_base = data.Data();
    iov[1].iov_len = data.ByteLength();
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &ss;
    msg.msg_namelen = sl;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    // A queued ICMP error about an earlier request also sets the socket
    // error, which would fail this send: it is read from the error queue
    // instead, so clear it.
    ClearSocketError();
    ssize_t r;
    do {
      r = sendmsg(fd_, &msg, 0);
    } while (r < 0 && errno == EINTR);
    return Napi::Number::New(env, r < 0 ? double(-errno) : double(r));
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<IcmpSocket*>(handle->data);
    if (self) self->Drain(status);
  }

  void Drain(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      // libuv reports POLLERR — a queued ICMP error — as UV_EBADF and stops
      // the handle: read the error queue, clear the socket error, read on,
      // and poll again (a really bad fd fails the restart).
      if (!DrainErrors(env)) return;
      ClearSocketError();
      if (reading_ && poll_ && fd_ >= 0 && uv_poll_start(poll_, UV_READABLE, OnPoll) != 0) return;
    }
    if (!DrainErrors(env)) return;
    for (int i = 0; i < kMaxPerWake && reading_ && fd_ >= 0; i++) {
      struct sockaddr_storage ss;
      char ctl[CMSG_SPACE(sizeof(int)) * 2];
      struct iovec iov;
      iov.iov_base = buf_.data();
      iov.iov_len = buf_.size();
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      msg.msg_name = &ss;
      msg.msg_namelen = sizeof ss;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = ctl;
      msg.msg_controllen = sizeof ctl;
      ssize_t r = recvmsg(fd_, &msg, 0);
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        // EINTR, or the pending error of a queued ICMP error (read by DrainErrors): go on.
        if (!DrainErrors(env)) return;
        continue;
      }
      int ttl = -1;
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) || (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
          memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
        }
      }
      char addr[INET6_ADDRSTRLEN] = "";
      if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_addr, addr, sizeof addr);
      else inet_ntop(AF_INET, &reinterpret_cast<struct sockaddr_in*>(&ss)->sin_addr, addr, sizeof addr);
      if (!Call(env, size_t(r), addr, ttl, -1, -1)) return;
    }
  }

  void ClearSocketError() {
    int e = 0;
    socklen_t el = sizeof e;
    if (fd_ >= 0) getsockopt(fd_, SOL_SOCKET, SO_ERROR, &e, &el);
  }

  // Reads the error queue (ICMP errors about our requests); false when the socket went away meanwhile.
  bool DrainErrors(Napi::Env env) {
    for (int i = 0; i < kMaxPerWake && reading_ && fd_ >= 0; i++) {
      char ctl[512];
      struct iovec iov;
      iov.iov_base = buf_.data();
      iov.iov_len = buf_.size();
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = ctl;
      msg.msg_controllen = sizeof ctl;
      ssize_t r = recvmsg(fd_, &msg, MSG_ERRQUEUE);
      if (r < 0) {
        if (errno == EINTR) continue;
        return true;  // EAGAIN: the queue is empty
      }
      for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
        bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6) continue;
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        if (ee.ee_origin != SO_EE_ORIGIN_ICMP && ee.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
        // SO_EE_OFFENDER: the address that sent the ICMP error, right after the struct.
        struct sockaddr_storage off;
        memset(&off, 0, sizeof off);
        size_t have = c->cmsg_len - CMSG_LEN(sizeof ee);
        memcpy(&off, CMSG_DATA(c) + sizeof ee, have < sizeof off ? have : sizeof off);
        char addr[INET6_ADDRSTRLEN] = "";
        if (off.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<struct sockaddr_in6*>(&off)->sin6_addr, addr, sizeof addr);
        else if (off.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<struct sockaddr_in*>(&off)->sin_addr, addr, sizeof addr);
        if (!Call(env, size_t(r), addr, -1, ee.ee_type, ee.ee_code)) return false;
        break;
      }
    }
    return true;
  }

  // Calls JS with buf_[0, len); false when the socket went away meanwhile.
  bool Call(Napi::Env env, size_t len, const char* addr, int ttl, int type, int code) {
    if (onMessage_.IsEmpty() || !asyncContext_) return false;
    Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::Copy(env, buf_.data(), len);
    inCallback_ = true;
    try {
      onMessage_.MakeCallback(Value(), {data, Napi::String::New(env, addr), Napi::Number::New(env, ttl), Napi::Number::New(env, type), Napi::Number::New(env, code)}, *asyncContext_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
      inCallback_ = false;
      return false;
    }
    inCallback_ = false;
    if (fd_ < 0) {
      ReleaseCallback();
      return false;
    }
    return true;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseNow();
    return info.Env().Undefined();
  }

  void CloseNow() {
    if (reading_) {
      if (poll_) uv_poll_stop(poll_);
      reading_ = false;
      Napi::ObjectWrap<IcmpSocket>::Unref();
    }
    synack::ClosePolledFd(poll_, fd_);
    if (!inCallback_) ReleaseCallback();
  }

  void ReleaseCallback() {
    if (!onMessage_.IsEmpty()) onMessage_.Reset();
    if (asyncContext_) {
      delete asyncContext_;
      asyncContext_ = nullptr;
    }
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) { return synack::RefPoll(poll_, info); }

  Napi::Value Unref(const Napi::CallbackInfo& info) { return synack::UnrefPoll(poll_, info); }

  // The identifier the kernel uses for this socket (0 before the first send or bind).
  Napi::Value GetIdent(const Napi::CallbackInfo& info) {
    if (fd_ < 0) return Napi::Number::New(info.Env(), 0);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd_, reinterpret_cast<struct sockaddr*>(&ss), &sl) < 0) return Napi::Number::New(info.Env(), 0);
    uint16_t port = ss.ss_family == AF_INET6 ? reinterpret_cast<struct sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<struct sockaddr_in*>(&ss)->sin_port;
    return Napi::Number::New(info.Env(), ntohs(port));
  }
  Napi::Value GetFamily(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), v6_ ? 6 : 4); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), fd_ < 0); }

  int fd_ = -1;
  bool v6_ = false;
  int lastTtl_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool reading_ = false;
  bool inCallback_ = false;
  Napi::FunctionReference onMessage_;
  Napi::AsyncContext* asyncContext_ = nullptr;
  std::vector<uint8_t> buf_;
};

}  // namespace

Napi::Function InitIcmpSocket(Napi::Env env) { return IcmpSocket::Init(env); }
