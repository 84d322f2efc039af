// Returning an idle process's memory to the system: V8's low-memory
// collection (a full, memory-reducing GC that also shrinks the young
// generation back to its initial size) and glibc's malloc_trim (free pages
// inside the malloc heap handed back with MADV_DONTNEED). A process that
// went through a burst keeps the pages the burst touched until then.
#include <napi.h>
#include <v8.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <unistd.h>
#include <vector>
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

// Replaces this process's image with `path` run with `argv` and `env`
// (execve(2)): the same PID, stdio and open descriptors without
// close-on-exec. Only returns on failure (then: strerror's text). For
// settings read before a process starts, such as glibc's MALLOC_ARENA_MAX.
Napi::Value Execve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsArray() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "execve(path: string, argv: string[], env: string[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  auto toVec = [](Napi::Array a) {
    std::vector<std::string> v;
    for (uint32_t i = 0; i < a.Length(); i++) v.push_back(a.Get(i).ToString().Utf8Value());
    return v;
  };
  std::vector<std::string> args = toVec(info[1].As<Napi::Array>());
  std::vector<std::string> envs = toVec(info[2].As<Napi::Array>());
  std::vector<char*> argp, envp;
  for (auto& a : args) argp.push_back(const_cast<char*>(a.c_str()));
  argp.push_back(nullptr);
  for (auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // libuv marks the descriptors of stdio close-on-exec once Node opened
  // them as streams: the new image must get them back.
  for (int fd = 0; fd <= 2; fd++) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) != 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  execve(path.c_str(), argp.data(), envp.data());
  return Napi::String::New(env, std::strerror(errno));
}

}  // namespace

Napi::Function InitExecve(Napi::Env env) { return Napi::Function::New<Execve>(env, "execve"); }

Napi::Function InitTrimMemory(Napi::Env env) { return Napi::Function::New<TrimMemory>(env, "trimMemory"); }
