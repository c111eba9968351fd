// releaseExecutablePages: gives back the resident pages of the running
// executable's read-only file mappings (the `node` binary's code, read-only
// data, and the dynamic linker's symbol and relocation tables).
//
// Start-up reads many of those pages once: the loader resolves every symbol
// through the tables at exec (the binary is linked with BIND_NOW), and V8
// copies its start-up snapshot out of the read-only data into the heap. They
// stay mapped, and counted in the process's RSS, until the kernel reclaims
// them. madvise(MADV_DONTNEED) over a private file mapping unmaps its pages;
// the ones the process uses again fault back in from the page cache, the
// rest stay out.
//
// Only mappings of the executable file that are not writable and hold no
// anonymous (copy-on-write) page are advised: their pages are exactly the
// file's, so unmapping them loses nothing. A mapping the loader relocated
// (RELRO, the GOT) has anonymous pages and is left alone.
#include "startup_pages.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace weft {
namespace {

struct Mapping {
  unsigned long start = 0;
  unsigned long end = 0;
  bool candidate = false;  // the executable's, read-only, private
  long anonymousKb = -1;
  long rssKb = 0;
};

napi_value ThrowErrno(napi_env env, int err, const char* what) {
  char text[200];
  snprintf(text, sizeof text, "releaseExecutablePages: %s: %s", what, strerror(err));
  napi_throw_error(env, "EIO", text);
  return nullptr;
}

napi_value SetNumber(napi_env env, napi_value obj, const char* name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
  return obj;
}

}  // namespace

// releaseExecutablePages(): { mappings: number, bytes: number, residentBytes: number }
// mappings: how many mappings were advised; bytes: their total size;
// residentBytes: how much of them was resident just before.
napi_value ReleaseExecutablePages(napi_env env, napi_callback_info /*info*/) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return ThrowErrno(env, errno, "readlink(/proc/self/exe)");
  exe[n] = '\0';

  FILE* smaps = fopen("/proc/self/smaps", "re");
  if (smaps == nullptr) return ThrowErrno(env, errno, "open /proc/self/smaps");
  std::vector<Mapping> mappings;
  char* line = nullptr;
  size_t cap = 0;
  while (getline(&line, &cap, smaps) > 0) {
    unsigned long start;
    unsigned long end;
    char perms[5];
    int pathAt = 0;
    // A mapping's first line: "start-end perms offset dev inode   path".
    if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %*u %n", &start, &end, perms, &pathAt) == 3 && pathAt > 0) {
      Mapping m;
      m.start = start;
      m.end = end;
      std::string path(line + pathAt);
      while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
      m.candidate = path == exe && perms[1] == '-' && perms[3] == 'p';
      mappings.push_back(m);
      continue;
    }
    if (mappings.empty()) continue;
    long kb;
    if (sscanf(line, "Anonymous: %ld kB", &kb) == 1) mappings.back().anonymousKb = kb;
    else if (sscanf(line, "Rss: %ld kB", &kb) == 1) mappings.back().rssKb = kb;
  }
  free(line);
  fclose(smaps);

  double count = 0;
  double bytes = 0;
  double resident = 0;
  for (const Mapping& m : mappings) {
    // anonymousKb stays -1 when the kernel did not report it: then the mapping is not known to be clean.
    if (!m.candidate || m.anonymousKb != 0) continue;
    if (madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) != 0) return ThrowErrno(env, errno, "madvise");
    count += 1;
    bytes += static_cast<double>(m.end - m.start);
    resident += static_cast<double>(m.rssKb) * 1024;
  }
  napi_value result;
  napi_create_object(env, &result);
  SetNumber(env, result, "mappings", count);
  SetNumber(env, result, "bytes", bytes);
  SetNumber(env, result, "residentBytes", resident);
  return result;
}

}  // namespace weft
