// A file descriptor watched by a uv_poll_t on Node's loop: what the TUN/TAP
// device (tun.cc) and the ICMP echo socket (icmp.cc) share — closing both
// (the handle's memory is freed in its close callback, after the loop is
// done with it) and ref/unref of the handle (whether it keeps the process
// alive).
#pragma once

#include <napi.h>
#include <uv.h>
#include <unistd.h>

namespace synack {

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
