{
  "targets": [
    {
      "target_name": "weft_original_dst",
      "sources": ["original_dst.cc", "startup_pages.cc", "tcp_user_timeout.cc", "reuse_port.cc", "napi_util.cc"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
