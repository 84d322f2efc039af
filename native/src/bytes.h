// A Uint8Array's bytes, for the addon's write paths.
#pragma once

#include <napi.h>

#include <stddef.h>
#include <stdint.h>

namespace synack {

// The bytes of `v` if it is a Uint8Array, with one napi_get_typedarray_info
// (Napi::TypedArray's and Napi::Uint8Array's checks make three or four such
// calls for each part of a write, each looking the buffer up again).
inline bool Uint8Bytes(napi_env env, napi_value v, const uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  size_t length = 0;
  void* d = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &d, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<const uint8_t*>(d);
  *len = length;
  return true;
}

}  // namespace synack
