{
  "targets": [
    {
      "target_name": "sentinel_native",
      "sources": ["native/binding.c", "native/ttl.c", "native/util.c", "native/reader.c", "native/tun.c", "native/udp.c", "native/dgram.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
