// A file descriptor watched by a uv_poll_t on Node's loop: what the TUN/TAP
// device (tun.cc) and the ICMP echo socket (icmp.cc) share — closing both
// (the handle's memory is freed in its close callback, after the loop is
// done with it) and ref/unref of the handle (whether it keeps the process
// alive).
#pragma once

#include <napi.h>
#include <uv.h>
#include <unistd.h>

#include <string>

namespace synack {

// Makes the poll handle for fd on Node's loop, its data `self`, unref'd (it
// keeps the process alive only when ref()'d). On failure the descriptor is
// closed and a JavaScript error thrown.
inline void OpenPoll(Napi::Env env, uv_poll_t*& poll, int& fd, void* self) {
  poll = new uv_poll_t;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int r = uv_poll_init(loop, poll, fd);
  if (r != 0) {
    delete poll;
    poll = nullptr;
    close(fd);
    fd = -1;
    throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(r));
  }
  poll->data = self;
  uv_unref(reinterpret_cast<uv_handle_t*>(poll));
}

// Closes the poll handle (if any) and the descriptor (if open); both are
// reset so a second call does nothing.
inline void ClosePolledFd(uv_poll_t*& poll, int& fd) {
  if (poll) {
    poll->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll = nullptr;
  }
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

inline Napi::Value RefPoll(uv_poll_t* poll, const Napi::CallbackInfo& info) {
  if (poll) uv_ref(reinterpret_cast<uv_handle_t*>(poll));
  return info.Env().Undefined();
}

inline Napi::Value UnrefPoll(uv_poll_t* poll, const Napi::CallbackInfo& info) {
  if (poll) uv_unref(reinterpret_cast<uv_handle_t*>(poll));
  return info.Env().Undefined();
}

}  // namespace synack
