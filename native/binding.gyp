{
  "targets": [
    {
      "target_name": "synack_tun",
      "sources": ["src/tun.cc", "src/netns.cc", "src/icmp.cc", "src/hostsock.cc", "src/memory.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      # Every symbol bound at load: the child that netns.cc forks from a
      # multithreaded Node never runs the dynamic linker's lazy binding.
      "ldflags": ["-Wl,-z,now"]
    }
  ]
}
