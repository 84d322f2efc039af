// synack-tun: host TCP sockets for the gateway's forwarded connections
// (src/gateway/host-sockets.ts), without a node:net Socket per connection.
//
// A forwarded connection of `synack gateway` is a TCB in the stack on the
// guest's side and a TCP socket of the host on the other. Through node:net
// each one costs a Socket (a Duplex with its handle, its buffers and its
// listeners: ~10 KB of heap) and several event-loop turns per connect,
// which bounded the gateway to about a third of slirp4netns's connections
// per second (docs/PERFORMANCE.md). Here every host socket is a plain
// non-blocking fd in one epoll set, and the epoll fd is the only handle on
// Node's loop (a uv_poll_t): one wake-up reads every ready socket and calls
// JavaScript once with all of it.
//
// The epoll registration is edge-triggered and made once, at connect
// (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET): an edge marks the socket
// readable or writable; reading goes on until EAGAIN (so the next edge
// comes), or stops at a budget and continues on the next loop turn (a
// uv_idle_t), or waits while JavaScript has the socket paused (its flag
// stays set, so resuming reads at once). Nothing is ever re-registered,
// and a hang-up or error of a paused socket cannot spin the loop.
//
// JavaScript sees, per socket id it chose, events in one array
// [kind, id, value, kind, id, value, …]: CONNECTED (value: 0), DATA (a
// Buffer), EOF, WRITABLE (after a write that did not take everything), and
// ERROR (value: the errno name, e.g. ECONNREFUSED). Writes are attempted at
// once (send/writev with MSG_NOSIGNAL) and return the bytes taken.

#include <algorithm>
#include <napi.h>
#include <uv.h>

#include "bytes.h"
#include "polled-fd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace {

const char* HostErrnoName(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTDOWN: return "EHOSTDOWN";
    case ENETDOWN: return "ENETDOWN";
    case EPIPE: return "EPIPE";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return "EUNKNOWN";
  }
}

enum Kind { kConnected = 1, kData = 2, kEof = 3, kWritable = 4, kError = 5, kDataRecycled = 6 };

// One recv() of up to 512 KiB: every recv that frees room in the socket's
// receive queue makes the kernel send the host peer a window update and,
// in the same softirq on this thread, run the peer's next transmission; and
// each read is one more event and one more SEND toward the guest. With 64
// KiB reads a download at MTU 65520 took 0.86-0.92 s of CPU per GB, with
// 512 KiB 0.54-0.63 (iperf3 pairs, docs/PERFORMANCE.md); 1 MiB gained
// nothing more.
constexpr size_t kReadSize = 512 * 1024;
// Recycled reads (setRecycling(true)): a read of at least kRecycleMin bytes
// is received straight into an ArrayBuffer of kReadSize from the pool JS
// hands back (recycle()) and delivered as a view of it (kDataRecycled): no
// new backing store, no copy. A smaller read is copied out (a pooled buffer
// never holds fewer than a quarter of its bytes: pinned memory stays within
// 4x the data). Without it, every read is a fresh Buffer — and V8 starts a
// full collection per 64 MB of new ArrayBuffer memory.
constexpr size_t kRecycleMin = kReadSize / 4;
// At most 8 MiB kept for the next reads.
constexpr size_t kPoolMax = 16;
// Bytes read from one socket per wake-up before the others get their turn —
// and the most a paused flow can have read past what its TCB took (the
// reads come before JavaScript sees them), so a stalled connection holds
// at most its send buffer and this.
constexpr size_t kReadBudget = 2 * kReadSize;
constexpr int kMaxEvents = 256;
// Chunks per writev (Linux's UIO_MAXIOV is 1024).
constexpr int kMaxIov = 1024;

struct HostSock {
  int fd = -1;
  bool connecting = true;
  bool reading = false;   // JavaScript wants data
  bool readable = false;  // an edge said so, and no EAGAIN since
  bool writable = false;
  bool wantWritable = false;  // a write did not take everything: report the next edge
  bool ended = false;         // EOF or an error was reported: nothing more to read
  bool queued = false;        // in ready_
};

class HostSockets : public Napi::ObjectWrap<HostSockets> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "HostSockets",
                       {
                           InstanceMethod<&HostSockets::Start>("start"),
                           InstanceMethod<&HostSockets::Connect>("connect"),
                           InstanceMethod<&HostSockets::Write>("write"),
                           InstanceMethod<&HostSockets::SetReading>("setReading"),
                           InstanceMethod<&HostSockets::Shutdown>("shutdown"),
                           InstanceMethod<&HostSockets::CloseSocket>("closeSocket"),
                           InstanceMethod<&HostSockets::Addresses>("addresses"),
                           InstanceMethod<&HostSockets::Close>("close"),
                           InstanceMethod<&HostSockets::SetRecycling>("setRecycling"),
                           InstanceMethod<&HostSockets::Recycle>("recycle"),
                           InstanceMethod<&HostSockets::Ref>("ref"),
                           InstanceMethod<&HostSockets::Unref>("unref"),
                           InstanceAccessor<&HostSockets::GetCount>("count"),
                       });
  }

  explicit HostSockets(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HostSockets>(info) {
    Napi::Env env = info.Env();
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw Napi::Error::New(env, std::string("epoll_create1: ") + strerror(errno));
    buf_.resize(kReadSize);
    synack::OpenPoll(env, poll_, epfd_, this);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    idle_ = new uv_idle_t;
    uv_idle_init(loop, idle_);
    idle_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(idle_));
  }

  ~HostSockets() override { CloseAll(); }

 private:
  // start(onEvents(events: Array))
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (epfd_ < 0) throw Napi::Error::New(env, "HostSockets.start: closed");
    if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "HostSockets.start(callback)");
    onEvents_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (!asyncContext_) asyncContext_ = new Napi::AsyncContext(env, "SynackHostSockets", Value());
    if (!polling_) {
      int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
      if (r != 0) throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(r));
      polling_ = true;
      Napi::ObjectWrap<HostSockets>::Ref();  // no GC while polling
    }
    return env.Undefined();
  }

  // connect(id, host: string (an IPv4 or IPv6 literal), port): 1 when connected at once, 0 when under way
  // (a CONNECTED or ERROR event follows), or -errno when it failed at once.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber()) {
      throw Napi::TypeError::New(env, "HostSockets.connect(id, host, port)");
    }
    if (epfd_ < 0) return Napi::Number::New(env, -EBADF);
    int32_t id = info[0].As<Napi::Number>().Int32Value();
    std::string host = info[1].As<Napi::String>().Utf8Value();
    uint16_t port = uint16_t(info[2].As<Napi::Number>().Uint32Value());
    if (socks_.count(id)) throw Napi::Error::New(env, "HostSockets.connect: id in use");
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    int family;
    auto* a4 = reinterpret_cast<struct sockaddr_in*>(&ss);
    auto* a6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
      family = AF_INET;
      a4->sin_family = AF_INET;
      a4->sin_port = htons(port);
      sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
      family = AF_INET6;
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(port);
      sl = sizeof *a6;
    } else {
      throw Napi::TypeError::New(env, "HostSockets.connect: not an IP address: " + host);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Napi::Number::New(env, -errno);
    int on = 1;
    // Nagle's algorithm off (RFC 9293 §3.7.4 leaves it to the application):
    // a relay must not hold a short write for the peer's delayed ACK.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    int r;
    do {
      r = connect(fd, reinterpret_cast<struct sockaddr*>(&ss), sl);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EINPROGRESS) {
      int e = errno;
      close(fd);
      return Napi::Number::New(env, -e);
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = uint64_t(uint32_t(id));
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
      int e = errno;
      close(fd);
      return Napi::Number::New(env, -e);
    }
    HostSock s;
    s.fd = fd;
    // On the loopback (the gateway's own address maps there) the kernel has
    // done the whole handshake, or received the RST, before connect()
    // returns: say so now (1 / -errno) instead of on the next epoll pass.
    struct pollfd pfd;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    pfd.revents = 0;
    int result = 0;
    if (r == 0 || (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLOUT | POLLERR | POLLHUP)))) {
      int err = 0;
      // Writable without an error or hang-up is connected; otherwise SO_ERROR says why.
      if (r != 0 && (pfd.revents & (POLLERR | POLLHUP))) {
        socklen_t el = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
      }
      if (err != 0 || (pfd.revents & (POLLERR | POLLHUP))) {
        epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        return Napi::Number::New(env, -(err != 0 ? err : ECONNREFUSED));
      }
      s.connecting = false;
      s.writable = true;
      result = 1;
    }
    socks_.emplace(id, s);
    return Napi::Number::New(env, result);
  }

  // write(id, chunks: Uint8Array[], start): bytes taken from chunks[start…] (one writev of at most 1024), or -errno.
  // When not everything was taken, a WRITABLE event follows once the socket has room.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsArray()) throw Napi::TypeError::New(env, "HostSockets.write(id, chunks, start?)");
    HostSock* s = Find(info[0].As<Napi::Number>().Int32Value());
    if (!s) return Napi::Number::New(env, -EBADF);
    Napi::Array chunks = info[1].As<Napi::Array>();
    uint32_t start = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
    struct iovec iov[kMaxIov];
    int n = 0;
    size_t total = 0;
    for (uint32_t i = start; i < chunks.Length() && n < kMaxIov; i++) {
      const uint8_t* p = nullptr;
      size_t plen = 0;
      if (!synack::Uint8Bytes(env, chunks.Get(i), &p, &plen)) throw Napi::TypeError::New(env, "HostSockets.write: chunks must be Uint8Arrays");
      if (plen == 0) continue;
      iov[n].iov_base = const_cast<uint8_t*>(p);
      iov[n].iov_len = plen;
      total += plen;
      n++;
    }
    if (n == 0) return Napi::Number::New(env, 0);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = size_t(n);
    ssize_t r;
    do {
      r = sendmsg(s->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Napi::Number::New(env, -errno);
      r = 0;
    }
    if (size_t(r) < total) {
      // The send buffer is full: the next EPOLLOUT edge is reported.
      s->writable = false;
      s->wantWritable = true;
    }
    return Napi::Number::New(env, double(r));
  }

  // setReading(id, on): whether DATA / EOF events are wanted (pause / resume).
  Napi::Value SetReading(const Napi::CallbackInfo& info) {
    HostSock* s = Find(info[0].As<Napi::Number>().Int32Value());
    if (!s) return info.Env().Undefined();
    s->reading = info[1].ToBoolean().Value();
    if (s->reading && s->readable && !s->connecting && !s->ended) Queue(info[0].As<Napi::Number>().Int32Value(), s);
    return info.Env().Undefined();
  }

  // shutdown(id): no more data from us (a FIN to the host peer); 0 or -errno.
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    HostSock* s = Find(info[0].As<Napi::Number>().Int32Value());
    if (!s) return Napi::Number::New(info.Env(), -EBADF);
    return Napi::Number::New(info.Env(), shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0);
  }

  // closeSocket(id, reset): closes the socket; with `reset`, with a RST (SO_LINGER 0) instead of a FIN.
  Napi::Value CloseSocket(const Napi::CallbackInfo& info) {
    int32_t id = info[0].As<Napi::Number>().Int32Value();
    auto it = socks_.find(id);
    if (it == socks_.end()) return info.Env().Undefined();
    if (info.Length() > 1 && info[1].ToBoolean().Value()) {
      struct linger lg;
      lg.l_onoff = 1;
      lg.l_linger = 0;
      setsockopt(it->second.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    // close() takes the fd out of the epoll set (no other descriptor shares its file).
    close(it->second.fd);
    socks_.erase(it);
    return info.Env().Undefined();
  }

  // addresses(id): [localAddress, localPort, remoteAddress, remotePort], or null.
  Napi::Value Addresses(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HostSock* s = Find(info[0].As<Napi::Number>().Int32Value());
    if (!s) return env.Null();
    Napi::Array out = Napi::Array::New(env, 4);
    for (int side = 0; side < 2; side++) {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      int r = side == 0 ? getsockname(s->fd, reinterpret_cast<struct sockaddr*>(&ss), &sl) : getpeername(s->fd, reinterpret_cast<struct sockaddr*>(&ss), &sl);
      if (r < 0) return env.Null();
      char addr[INET6_ADDRSTRLEN] = "";
      uint16_t port;
      if (ss.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<struct sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
        port = ntohs(a->sin6_port);
      } else {
        auto* a = reinterpret_cast<struct sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
        port = ntohs(a->sin_port);
      }
      out.Set(uint32_t(side * 2), Napi::String::New(env, addr));
      out.Set(uint32_t(side * 2 + 1), Napi::Number::New(env, port));
    }
    return out;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<HostSockets*>(handle->data);
    if (self) self->Drain();
  }

  static void OnIdle(uv_idle_t* handle) {
    auto* self = static_cast<HostSockets*>(handle->data);
    if (self) self->Drain();
  }

  HostSock* Find(int32_t id) {
    auto it = socks_.find(id);
    return it == socks_.end() ? nullptr : &it->second;
  }

  void Queue(int32_t id, HostSock* s) {
    if (s->queued) return;
    s->queued = true;
    ready_.push_back(id);
    if (!idleActive_ && idle_) {
      uv_idle_start(idle_, OnIdle);
      idleActive_ = true;
    }
  }

  void Push(Napi::Env env, Kind kind, int32_t id, Napi::Value value) {
    out_.Set(outLen_++, Napi::Number::New(env, kind));
    out_.Set(outLen_++, Napi::Number::New(env, id));
    out_.Set(outLen_++, value);
  }

  // One pass: the edges epoll has, then the sockets left with data to read.
  void Drain() {
    if (epfd_ < 0 || onEvents_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    out_ = Napi::Array::New(env);
    outLen_ = 0;
    struct epoll_event evs[kMaxEvents];
    int n;
    do {
      n = epoll_wait(epfd_, evs, kMaxEvents, 0);
    } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) {
      int32_t id = int32_t(uint32_t(evs[i].data.u64));
      HostSock* s = Find(id);
      if (!s) continue;
      uint32_t e = evs[i].events;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->readable = true;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s->writable = true;
      if (s->connecting) {
        if (!s->writable) continue;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err == 0 && (e & EPOLLERR) == 0 && (e & EPOLLHUP) == 0) {
          s->connecting = false;
          Push(env, kConnected, id, Napi::Number::New(env, 0));
        } else {
          s->ended = true;
          Push(env, kError, id, Napi::String::New(env, HostErrnoName(err != 0 ? err : ECONNREFUSED)));
        }
        continue;
      }
      if (s->writable && s->wantWritable) {
        s->wantWritable = false;
        Push(env, kWritable, id, Napi::Number::New(env, 0));
      }
      if (s->readable && s->reading && !s->ended) Queue(id, s);
    }
    // Read the ready sockets, each up to the budget (the rest next turn).
    // Swapped with a member kept for the purpose: neither list gives up its memory.
    std::vector<int32_t>& ready = readyNow_;
    ready.clear();
    ready.swap(ready_);
    for (int32_t id : ready) {
      HostSock* s = Find(id);
      if (!s) continue;
      s->queued = false;
      ReadSome(env, id, s);
    }
    if (ready_.empty() && idleActive_) {
      uv_idle_stop(idle_);
      idleActive_ = false;
    }
    if (outLen_ == 0) return;
    Napi::Array events = out_;
    out_ = Napi::Array();
    try {
      onEvents_.MakeCallback(Value(), {events}, *asyncContext_);
    } catch (const Napi::Error& err) {
      napi_fatal_exception(env, err.Value());
    }
  }

  void ReadSome(Napi::Env env, int32_t id, HostSock* s) {
    size_t got = 0;
    while (s->reading && s->readable && !s->ended) {
      if (got >= kReadBudget) {
        Queue(id, s);
        return;
      }
      ssize_t r;
      int err;
      if (recycling_) {
        // Into the pool's last buffer, left in the pool (no reference
        // dropped and made again) unless the read is large enough to be
        // handed over whole; a small read is copied out, and the EAGAIN
        // that ends every drain costs nothing but the recv.
        if (pool_.empty()) pool_.push_back(Napi::Persistent(Napi::ArrayBuffer::New(env, kReadSize)));
        Napi::ArrayBuffer ab = pool_.back().Value();
        do {
          r = recv(s->fd, ab.Data(), std::min(kReadSize, kReadBudget - got), MSG_DONTWAIT);
        } while (r < 0 && errno == EINTR);
        err = r < 0 ? errno : 0;
        if (r > 0 && size_t(r) >= kRecycleMin) {
          pool_.pop_back();
          got += size_t(r);
          Push(env, kDataRecycled, id, Napi::Uint8Array::New(env, size_t(r), ab, 0));
          continue;
        }
        if (r > 0) {
          got += size_t(r);
          Push(env, kData, id, CopyOut(env, static_cast<uint8_t*>(ab.Data()), size_t(r)));
          continue;
        }
      } else {
        do {
          r = recv(s->fd, buf_.data(), std::min(buf_.size(), kReadBudget - got), MSG_DONTWAIT);
        } while (r < 0 && errno == EINTR);
        err = r < 0 ? errno : 0;
        if (r > 0) {
          got += size_t(r);
          Push(env, kData, id, CopyOut(env, buf_.data(), size_t(r)));
          continue;
        }
      }
      if (r == 0) {
        s->ended = true;
        Push(env, kEof, id, Napi::Number::New(env, 0));
      } else if (err == EAGAIN || err == EWOULDBLOCK) {
        s->readable = false;
      } else {
        s->ended = true;
        Push(env, kError, id, Napi::String::New(env, HostErrnoName(err)));
      }
    }
  }

  // A read's bytes in an ArrayBuffer of their own, as a plain Uint8Array
  // (a node Buffer would cost a prototype change per read).
  static Napi::Uint8Array CopyOut(Napi::Env env, const uint8_t* data, size_t n) {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, n);
    memcpy(ab.Data(), data, n);
    return Napi::Uint8Array::New(env, n, ab, 0);
  }

  // setRecycling(on): reads of kRecycleMin bytes or more arrive as views of pooled buffers (kind 6).
  Napi::Value SetRecycling(const Napi::CallbackInfo& info) {
    recycling_ = info.Length() > 0 && info[0].ToBoolean().Value();
    if (!recycling_) pool_.clear();
    return info.Env().Undefined();
  }

  // recycle(buffers: ArrayBuffer[]): buffers from kind-6 events whose bytes are no longer
  // needed, for the next reads (beyond kPoolMax, or of another size, they are left to the GC).
  Napi::Value Recycle(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "HostSockets.recycle(buffers)");
    Napi::Array arr = info[0].As<Napi::Array>();
    uint32_t n = arr.Length();
    for (uint32_t i = 0; i < n && recycling_ && pool_.size() < kPoolMax; i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsArrayBuffer()) continue;
      Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
      if (ab.ByteLength() != kReadSize) continue;
      pool_.push_back(Napi::Persistent(ab));
    }
    return Napi::Number::New(env, double(pool_.size()));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseAll();
    return info.Env().Undefined();
  }

  void CloseAll() {
    for (auto& kv : socks_) close(kv.second.fd);
    socks_.clear();
    ready_.clear();
    pool_.clear();
    if (idle_) {
      idle_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(idle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
      idle_ = nullptr;
      idleActive_ = false;
    }
    if (polling_) {
      if (poll_) uv_poll_stop(poll_);
      polling_ = false;
      Napi::ObjectWrap<HostSockets>::Unref();
    }
    synack::ClosePolledFd(poll_, epfd_);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) { return synack::RefPoll(poll_, info); }
  Napi::Value Unref(const Napi::CallbackInfo& info) { return synack::UnrefPoll(poll_, info); }
  Napi::Value GetCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(socks_.size())); }

  int epfd_ = -1;
  uv_poll_t* poll_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  bool idleActive_ = false;
  bool polling_ = false;
  Napi::FunctionReference onEvents_;
  Napi::AsyncContext* asyncContext_ = nullptr;
  std::unordered_map<int32_t, HostSock> socks_;
  std::vector<int32_t> ready_;
  std::vector<int32_t> readyNow_;
  std::vector<uint8_t> buf_;
  bool recycling_ = false;
  std::vector<Napi::Reference<Napi::ArrayBuffer>> pool_;
  Napi::Array out_;
  uint32_t outLen_ = 0;
};

}  // namespace

Napi::Function InitHostSockets(Napi::Env env) { return HostSockets::Init(env); }
