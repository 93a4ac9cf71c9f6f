{
  # weft_native: the N-API addon (native/). Plain C over node_api.h, so it
  # needs no node-addon-api and stays ABI-stable across Node releases; it also
  # uses libuv (uv_poll) from the headers Node ships. Linux only: tun.c and
  # udp.c stop the build with #error elsewhere. tun.c holds the module init,
  # which also registers udp.c's batch UDP calls, scheduling.c's two and
  # aead.c's three. aead.c calls the OpenSSL Node carries (its headers ship
  # with Node's, include/node/openssl; its symbols are exported to addons),
  # so nothing more is linked.
  "targets": [
    {
      "target_name": "weft_native",
      "sources": ["native/tun.c", "native/udp.c", "native/udp-gso.c", "native/scheduling.c", "native/aead.c"],
      # Node-API 8: async cleanup hooks and type tags.
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      # node's common.gypi puts -O3 and -Wno-unused-parameter first; drop the
      # latter so -Wextra is complete, and -O2 (later on the line) wins.
      "cflags!": ["-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
