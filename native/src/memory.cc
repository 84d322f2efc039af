// Returning an idle process's memory to the system: V8's low-memory
// collection (a full, memory-reducing GC that also shrinks the young
// generation back to its initial size) and glibc's malloc_trim (free pages
// inside the malloc heap handed back with MADV_DONTNEED). A process that
// went through a burst keeps the pages the burst touched until then.
#include <napi.h>
#include <v8.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

Napi::Value TrimMemory(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  bool trimmed = false;
#if defined(__GLIBC__)
  trimmed = malloc_trim(0) != 0;
#endif
  return Napi::Boolean::New(info.Env(), trimmed);
}

}  // namespace

Napi::Function InitTrimMemory(Napi::Env env) { return Napi::Function::New<TrimMemory>(env, "trimMemory"); }
